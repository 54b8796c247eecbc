"""`make run`'s export checks: each exported archive opened by its format's own reader (nibabel, highdicom, dciodvfy,
pycocotools, darwin-py), one line of findings each; a reader's refusal is a failed check, not a traceback."""

from __future__ import annotations

import contextlib
import io
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


class CheckFailed(RuntimeError):
    """A reader refused an export."""


@dataclass(frozen=True)
class Checked:
    """What one format's reader made of its export."""

    ok: bool
    finding: str


def tool(name: str) -> str:
    """A tool's path from scripts/tools.sh (installed on first use) or scripts/peers.sh (darwin-py's python)."""
    command = [str(REPO / "scripts" / "peers.sh")] if name == "darwin-py" else [str(REPO / "scripts" / "tools.sh"), name]
    found = subprocess.run(command, capture_output=True, text=True, timeout=900)
    if found.returncode != 0:
        raise RuntimeError(f"{name} could not be installed: {found.stderr.strip()[-500:]}")
    return found.stdout.strip().splitlines()[-1]


def unpack(archive: Path) -> list[Path]:
    """The archive's files, extracted beside it into a folder of its name."""
    folder = archive.with_suffix("")
    with zipfile.ZipFile(archive) as opened:
        opened.extractall(folder)
    return sorted(path for path in folder.rglob("*") if path.is_file())


def nifti(files: list[Path], expected: dict[str, int]) -> Checked:
    """Every label map loads in nibabel; `expected` is each item's final label voxel count, by file name stem part."""
    import nibabel as nib
    import numpy as np

    maps = [path for path in files if path.name.endswith((".nii", ".nii.gz"))]
    counts = sorted(int(np.count_nonzero(np.asanyarray(nib.load(path).dataobj))) for path in maps)
    ok = counts == sorted(expected.values())
    return Checked(ok, f"nibabel loads {len(maps)} label map(s); labelled voxels {counts}"
                       + ("" if ok else f", expected {sorted(expected.values())}"))


def dicom_seg(files: list[Path], dciodvfy: str) -> Checked:
    """Every SEG reads in highdicom with its segments, and dciodvfy finds no error in it."""
    import highdicom as hd

    segs = [path for path in files if path.suffix == ".dcm"]
    segments = [len(hd.seg.segread(path).SegmentSequence) for path in segs]
    errors = sum(len(dciodvfy_errors(dciodvfy, path)) for path in segs)
    return Checked(bool(segs) and all(segments) and errors == 0,
                   f"highdicom reads {len(segs)} SEG(s), {sum(segments)} segment(s); dciodvfy errors: {errors}")


def rtstruct(files: list[Path], dciodvfy: str) -> Checked:
    """Every RTSTRUCT has its ROI contours (pydicom) and dciodvfy finds no error in it."""
    import pydicom

    structures = [path for path in files if path.suffix == ".dcm"]
    contours = [sum(len(roi.ContourSequence) for roi in pydicom.dcmread(path).ROIContourSequence) for path in structures]
    errors = sum(len(dciodvfy_errors(dciodvfy, path)) for path in structures)
    return Checked(bool(structures) and all(contours) and errors == 0,
                   f"{len(structures)} RTSTRUCT(s), {sum(contours)} contour(s) (pydicom); dciodvfy errors: {errors}")


def coco(files: list[Path]) -> Checked:
    """Every COCO file indexes in pycocotools, and each of its annotations decodes to a non-empty mask."""
    from pycocotools.coco import COCO

    documents = labels_json(files)
    masks = 0
    for path in documents:
        with contextlib.redirect_stdout(io.StringIO()):  # its progress lines
            index = COCO(str(path))
        masks += sum(1 for annotation in index.dataset["annotations"] if index.annToMask(annotation).any())
    return Checked(bool(documents) and masks > 0, f"pycocotools indexes {len(documents)} file(s), {masks} non-empty mask(s)")


def darwin(files: list[Path], python: str) -> Checked:
    """Every Darwin JSON parses in darwin-py (V7's library) with its annotations."""
    documents = [str(path) for path in labels_json(files)]
    script = ("import sys\nfrom pathlib import Path\nfrom darwin.utils import parse_darwin_json\n"
              "print(sum(len(parse_darwin_json(Path(p)).annotations) for p in sys.argv[1:]))")
    done = subprocess.run([python, "-c", script, *documents], capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        return Checked(False, f"darwin-py refused: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}")
    annotations = int(done.stdout.strip().splitlines()[-1])
    return Checked(bool(documents) and annotations > 0, f"darwin-py parses {len(documents)} file(s), {annotations} annotation(s)")


def labels_json(files: list[Path]) -> list[Path]:
    """The export's label documents: its JSON files but the manifest."""
    return [path for path in files if path.suffix == ".json" and path.name != "manifest.json"]


def dciodvfy_errors(dciodvfy: str, path: Path) -> list[str]:
    report = subprocess.run([dciodvfy, str(path)], capture_output=True, text=True, timeout=120)
    return [line for line in (report.stderr + report.stdout).splitlines() if line.startswith("Error")]
