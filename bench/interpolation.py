"""Interpolation benchmark (issue 6): held-out slices filled from every k-th key slice, Radlab vs its peers.

Protocol: the acquisition axis is the coarsest spacing (isotropic: the axis along which the labels span most
slices); within the labelled range every k-th slice plus the last labelled slice are keys; the rest is filled
and only those held-out slices are scored: Dice per label over the held-out slices, averaged over the labels
present there; HD95 (mm) per label and held-out slice where truth and prediction both hold it, averaged;
false-empty and false-present (slice, label) pairs; seconds. Every method gets the same keys: nearest-key
copy, the plain signed-distance baseline, ITK's MorphologicalContourInterpolator (peers' venv, subprocess) and
Radlab's `fill` with each method. `python -m bench.interpolation` runs it alone.
"""

from __future__ import annotations

import functools
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from services.interpolation.domain.fill import LabelKeys, Method, fill, fill_by_shape, keys_from_slices
from shared import agreement
from shared.config import data_dir
from shared.grid import array_spacing
from shared.volumes import from_nifti

REPO = Path(__file__).resolve().parent.parent
KS = (2, 3, 4, 6)

# Case name → (image, label map) under RADLAB_DATA.
CASES = {
    "spleen CT": ("ivadomed_spleen/ct_scan/sub-spleen2/ct/sub-spleen2_ct.nii.gz",
                  "ivadomed_spleen/ct_scan/derivatives/labels/sub-spleen2/ct/sub-spleen2_ct_seg-manual.nii.gz"),
    "41-organ CT": ("totalsegmentator/tests/reference_files/example_ct_sm.nii.gz",
                    "totalsegmentator/tests/reference_files/example_seg.nii.gz"),
    "24-label MR": ("totalsegmentator/tests/reference_files/example_mr_sm.nii.gz",
                    "totalsegmentator/tests/reference_files/example_seg_mr.nii.gz"),
    "cord T2": ("sct_t2/t2/t2.nii.gz", "sct_t2/t2/t2_seg-manual.nii.gz"),
}

NEAREST, SIGNED_DISTANCE, MCI = "nearest key", "signed distance", "ITK MCI"
PEERS = (NEAREST, SIGNED_DISTANCE, MCI)
METHODS = (*PEERS, *(method.name for method in Method))

# Held-out Dice the issue measured for the peers (nearest / signed distance / MCI), to check the protocol.
ISSUE_PEERS = {("spleen CT", 3): (0.900, 0.960, 0.933), ("spleen CT", 6): (0.828, 0.883, 0.898),
               ("41-organ CT", 2): (0.722, 0.692, 0.642), ("41-organ CT", 3): (0.711, 0.624, 0.533),
               ("41-organ CT", 6): (0.551, 0.395, 0.363), ("24-label MR", 3): (0.786, 0.709, 0.675)}
# The issue's Dice goals for Radlab's default method (IMAGE_GUIDED); every method must beat the best peer.
GOALS = {("41-organ CT", 2): 0.90, ("41-organ CT", 3): 0.87, ("41-organ CT", 4): 0.82, ("41-organ CT", 6): 0.75,
         ("spleen CT", 3): 0.975, ("spleen CT", 6): 0.96, ("24-label MR", 3): 0.82}
_mci_cache: dict[tuple[str, tuple[int, ...]], tuple[np.ndarray | None, float]] = {}  # run() fills it in one go
SECONDS_GOALS = {Method.IMAGE_GUIDED: 5.0, Method.IMAGE_GUIDED_FAST: 1.0}
ONE_GAP_MS_GOAL = 200.0


@dataclass(frozen=True)
class Case:
    """One labelled volume: image and labels [k, j, i], spacing in mm per array axis, the acquisition axis."""

    name: str
    image: np.ndarray
    labels: np.ndarray
    spacing: tuple[float, float, float]
    axis: int


@dataclass(frozen=True)
class Score:
    """One method on one case and k, scored on the held-out slices."""

    dice: float
    hd95: float
    false_empty: int
    false_present: int
    seconds: float
    per_label: dict[int, float] = field(default_factory=dict)


@functools.cache
def load_case(name: str) -> Case:
    """Read a case's image and labels (cached for the run)."""
    image_path, labels_path = (data_dir() / part for part in CASES[name])
    image, affine = from_nifti(image_path)
    labels, _ = from_nifti(labels_path)
    labels = labels.astype(np.int32)
    spacing = array_spacing(affine)
    return Case(name, image.astype(np.float32), labels, spacing, acquisition_axis(labels, spacing))


def acquisition_axis(labels: np.ndarray, spacing: tuple[float, float, float]) -> int:
    """The coarsest-spaced axis; for isotropic volumes the one along which the labels span most slices."""
    if max(spacing) - min(spacing) > 1e-3 * max(spacing):
        return int(np.argmax(spacing))
    spans = []
    for axis in range(3):
        present = np.nonzero(np.moveaxis(labels, axis, 0).reshape(labels.shape[axis], -1).any(axis=1))[0]
        spans.append(present.max() - present.min() + 1 if present.size else 0)
    return int(np.argmax(spans))


def labelled_range(labels: np.ndarray, axis: int) -> tuple[int, int]:
    """First and last slice along `axis` holding any label."""
    present = np.nonzero(np.moveaxis(labels, axis, 0).reshape(labels.shape[axis], -1).any(axis=1))[0]
    return int(present.min()), int(present.max())


def key_slices(labels: np.ndarray, axis: int, k: int) -> list[int]:
    """Every k-th slice of the labelled range from its first, plus its last."""
    first, last = labelled_range(labels, axis)
    return sorted({*range(first, last + 1, k), last})


def held_out(labels: np.ndarray, axis: int, keys: list[int]) -> list[int]:
    """The labelled range's slices that are not keys: the ones scored."""
    first, last = labelled_range(labels, axis)
    return [s for s in range(first, last + 1) if s not in set(keys)]


def score(truth: np.ndarray, predicted: np.ndarray, axis: int, scored: list[int],
          spacing: tuple[float, float, float], seconds: float) -> Score:
    """Score a prediction on the held-out slices `scored` (see the module's protocol)."""
    truth_slices, predicted_slices = np.moveaxis(truth, axis, 0)[scored], np.moveaxis(predicted, axis, 0)[scored]
    in_plane = tuple(s for n, s in enumerate(spacing) if n != axis)
    per_label, distances, false_empty, false_present = {}, [], 0, 0
    for value in sorted((set(np.unique(truth_slices).tolist()) | set(np.unique(predicted_slices).tolist())) - {0}):
        expected, found = truth_slices == value, predicted_slices == value
        expected_any, found_any = expected.any(axis=(1, 2)), found.any(axis=(1, 2))
        false_empty += int(np.count_nonzero(expected_any & ~found_any))
        false_present += int(np.count_nonzero(found_any & ~expected_any))
        if expected_any.any():
            per_label[value] = agreement.dice(found, expected)
            label_distances = [agreement.hd95(found[n], expected[n], in_plane)
                               for n in np.nonzero(expected_any & found_any)[0]]
            if label_distances:
                distances.append(float(np.mean(label_distances)))
    return Score(dice=float(np.mean(list(per_label.values()))) if per_label else 1.0,
                 hd95=float(np.mean(distances)) if distances else 0.0,
                 false_empty=false_empty, false_present=false_present, seconds=seconds, per_label=per_label)


def given_keys(case: Case, keys: list[int]) -> np.ndarray:
    """The case's labels on the key slices only: what every method starts from."""
    given = np.zeros_like(case.labels)
    np.moveaxis(given, case.axis, 0)[keys] = np.moveaxis(case.labels, case.axis, 0)[keys]
    return given


def predict(case: Case, keys: list[int], method: str) -> tuple[np.ndarray | None, float]:
    """The method's filled volume from the case's key slices, and the seconds it took (None: unavailable)."""
    moved = np.moveaxis(case.labels, case.axis, 0)
    given = given_keys(case, keys)
    started = time.perf_counter()
    if method == NEAREST:
        first, last = labelled_range(case.labels, case.axis)
        nearest = [min(keys, key=lambda key: (abs(key - s), key)) for s in range(moved.shape[0])]
        filled = np.moveaxis(moved[nearest], 0, case.axis).copy()
        outside = np.moveaxis(filled, case.axis, 0)
        outside[:first], outside[last + 1:] = 0, 0
    elif method == SIGNED_DISTANCE:
        volume = np.moveaxis(given, case.axis, 0).copy()
        in_plane = tuple(s for n, s in enumerate(case.spacing) if n != case.axis)
        fill_by_shape(volume, keys_from_slices(given, keys, case.axis), in_plane, correspondence=False)
        filled = np.moveaxis(volume, 0, case.axis)
    elif method == MCI:
        return _mci_cache.pop((case.name, tuple(keys)), None) or mci([(given, case.axis)])[0]
    else:
        filled = fill(given, keys_from_slices(given, keys, case.axis), axis=case.axis, method=Method[method],
                      image=case.image, spacing=case.spacing).labels
    return filled, time.perf_counter() - started


def evaluate(case: Case | str, k: int, method: str) -> Score | None:
    """One method on one case with every k-th key slice, scored on the held-out slices (None: unavailable)."""
    case = load_case(case) if isinstance(case, str) else case
    keys = key_slices(case.labels, case.axis, k)
    predicted, seconds = predict(case, keys, method)
    if predicted is None:
        return None
    return score(case.labels, predicted, case.axis, held_out(case.labels, case.axis, keys), case.spacing, seconds)


@functools.cache
def _peers_python() -> Path | None:
    """The peers' venv python when ITK's interpolator is installed there (bench/peers.sh builds it once)."""
    done = subprocess.run(["bash", str(REPO / "bench" / "peers.sh")], capture_output=True, text=True, cwd=REPO,
                          timeout=1800)
    venv = next((line.split("=", 1)[1] for line in done.stdout.splitlines() if line.startswith("PEERS_VENV=")), None)
    if venv is None:
        return None
    python = Path(venv) / "bin" / "python"
    check = subprocess.run([str(python), "-c", "import itk; itk.MorphologicalContourInterpolator"],
                           capture_output=True, timeout=300)
    return python if check.returncode == 0 else None


def mci(runs: list[tuple[np.ndarray, int]]) -> list[tuple[np.ndarray | None, float]]:
    """ITK MCI on each (key-slice labels, axis) in one peers'-venv subprocess: filled maps and ITK's seconds
    (None where it is not installed or wrote nothing; a crash at interpreter exit does not matter)."""
    python = _peers_python()
    if python is None:
        return [(None, 0.0)] * len(runs)
    with tempfile.TemporaryDirectory() as folder:
        arguments = []
        for n, (given, axis) in enumerate(runs):
            np.save(Path(folder) / f"{n}.npy", given.astype(np.uint16))
            arguments += [str(Path(folder) / f"{n}.npy"), str(Path(folder) / f"{n}.out.npy"), str(axis)]
        subprocess.run([str(python), str(REPO / "bench" / "interpolation_mci.py"), *arguments],
                       capture_output=True, timeout=1200)
        results = []
        for n, (given, _axis) in enumerate(runs):
            target = Path(folder) / f"{n}.out.npy"
            done = target.is_file() and Path(f"{target}.seconds").is_file()
            results.append((np.load(target).astype(given.dtype), float(Path(f"{target}.seconds").read_text()))
                           if done else (None, 0.0))
        return results


def one_gap_ms(method: Method, repeats: int = 5) -> float:
    """Milliseconds to fill one structure across one gap (two slices between) of a 512×512 slice pair: the
    spleen's two key slices k=3 apart around its middle, scaled up to 512×512 (labels nearest, image linear)."""
    from scipy import ndimage

    case = load_case("spleen CT")
    first, last = labelled_range(case.labels, case.axis)
    middle = (first + last) // 2
    block = slice(middle - 1, middle + 3)
    zoom = (1, 512 / case.labels.shape[1], 512 / case.labels.shape[2])
    labels = ndimage.zoom(np.moveaxis(case.labels, case.axis, 0)[block], zoom, order=0)
    image = ndimage.zoom(np.moveaxis(case.image, case.axis, 0)[block], zoom, order=1)
    labels[1:3] = 0
    keys = {1: LabelKeys(drawn=(0, 3), absent=())}
    spacing = (case.spacing[case.axis], *(s / z for s, z in zip(case.spacing[1:], zoom[1:])))
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fill(labels, keys, method=method, image=image, spacing=spacing)
        times.append(time.perf_counter() - started)
    return 1000 * float(np.median(times))


def run() -> None:
    """Print the held-out Dice, HD95, false-empty/present and seconds per case, k and method, with the goals."""
    results: dict[tuple[str, int, str], Score | None] = {}
    runs = [(load_case(name), key_slices(load_case(name).labels, load_case(name).axis, k)) for name in CASES for k in KS]
    print(f"ITK MCI on {len(runs)} key sets (one subprocess)…", flush=True)
    for (case, keys), result in zip(runs, mci([(given_keys(case, keys), case.axis) for case, keys in runs])):
        _mci_cache[case.name, tuple(keys)] = result
    for name in CASES:
        case = load_case(name)
        print(f"\n{name}: {case.labels.shape} [k, j, i], spacing {tuple(round(s, 3) for s in case.spacing)} mm, "
              f"axis {case.axis}, {len(np.unique(case.labels)) - 1} labels", flush=True)
        print(f"  {'k':>2} {'method':<18} {'Dice':>6} {'HD95 mm':>8} {'f-empty':>8} {'f-present':>9} {'s':>7}  goal")
        for k in KS:
            for method in METHODS:
                result = results[name, k, method] = evaluate(case, k, method)
                print(f"  {k:>2} {method:<18} " + _row(result) + _goal(name, k, method, results), flush=True)
    print("\nprotocol check against the issue's peer figures (nearest / signed distance / MCI):")
    for (name, k), expected in ISSUE_PEERS.items():
        measured = [results[name, k, peer] for peer in PEERS]
        print(f"  {name} k={k}: issue {' / '.join(f'{d:.3f}' for d in expected)}, here "
              + " / ".join("n/a" if m is None else f"{m.dice:.3f}" for m in measured))
    print("\nspeed (this machine):")
    for method in Method:
        ms = one_gap_ms(method)
        print(f"  one structure, one gap, 512×512, {method.name}: {ms:.0f} ms (goal ≤ {ONE_GAP_MS_GOAL:.0f} ms: "
              f"{'met' if ms <= ONE_GAP_MS_GOAL else 'not met'})")
    for method in Method:
        worst = max(results[name, 3, method.name].seconds for name in CASES)
        goal = SECONDS_GOALS.get(method)
        print(f"  whole volume (slowest case, k=3), {method.name}: {worst:.2f} s"
              + (f" (goal ≤ {goal:.0f} s: {'met' if worst <= goal else 'not met'})" if goal else ""))


def _row(result: Score | None) -> str:
    if result is None:
        return f"{'unavailable':>6}"
    return (f"{result.dice:6.3f} {result.hd95:8.2f} {result.false_empty:8d} {result.false_present:9d} "
            f"{result.seconds:7.2f}")


def _goal(name: str, k: int, method: str, results: dict) -> str:
    """For Radlab's methods: better than every peer, and for the default method the issue's Dice goal."""
    result = results[name, k, method]
    if method in PEERS or result is None:
        return ""
    best_peer = max((results[name, k, peer].dice for peer in PEERS if results[name, k, peer] is not None), default=0.0)
    goal = GOALS.get((name, k)) if method == Method.IMAGE_GUIDED.name else None
    met = result.dice > best_peer and (goal is None or result.dice >= goal)
    return f"  > {best_peer:.3f}" + (f" and ≥ {goal:.3f}" if goal else "") + (": met" if met else ": not met")


if __name__ == "__main__":
    run()
    sys.exit(0)
