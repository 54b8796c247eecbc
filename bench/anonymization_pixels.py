"""Pixel PHI benchmark: identity burned into the pixels found by Radlab's reading (real Tesseract) on the tuning and the held-out corpus."""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

import pydicom

from services.anonymization.domain import pixel_text
from services.anonymization.domain.engine import anonymize
from services.anonymization.handlers.burned_in import REDACT, BurnedInText, screened
from services.anonymization.rules_table import load_rule_table
from services.anonymization.tesseract import Tesseract
from shared import config
from tests.burned_in_corpus import CorpusImage, corpus, held_out

REPO = Path(__file__).resolve().parents[1]
# A rendered line counts as found when the regions found cover this share of its ink's box.
COVERED = 0.5
KEY = b"radlab-bench-key-0123456789abcdef"
# Why Presidio's DicomImageRedactorEngine is not in the table, until it can be run here.
PRESIDIO = ("not run: presidio-image-redactor is not among the project's pinned dependencies, and its analyzer's default "
            "NLP engine loads spaCy's en_core_web_lg model, which is not on PyPI (a GitHub release download)")


@dataclass
class Split:
    """What reading one corpus gave: lines and images found, harmless lines hit, time per image."""

    name: str
    identifying_lines: int = 0
    lines_found: int = 0
    images_with_identity: int = 0
    images_found: int = 0
    harmless_lines: int = 0
    harmless_redacted: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    screened_ms: list[float] = field(default_factory=list)  # CT and MR slices passed unread: the reading's cost on them
    read_ms: list[float] = field(default_factory=list)  # decoded, paged, OCR'd, matched, redacted and written


def measure(name: str, images: list[CorpusImage], reader: Tesseract) -> Split:
    """Each image through the engine and the reading as the service runs them (redact policy); the time is the
    reading's, on top of the engine's (nothing for an image the header does not send to be read)."""
    split = Split(name)
    for image in images:
        result = anonymize(image.data, load_rule_table(), KEY)
        started = time.perf_counter()
        screened(image.data, result, BurnedInText(REDACT, reader))
        spent = (time.perf_counter() - started) * 1000
        regions = []
        if result.report.to_read is None:
            split.screened_ms.append(spent)
        else:
            split.read_ms.append(spent)
            header = pydicom.dcmread(BytesIO(image.data))
            page, scale = pixel_text.page(pixel_text.grey(header.pixel_array, str(header.PhotometricInterpretation)))
            regions = [f.region for f in pixel_text.findings(reader.read(page), pixel_text.identifiers(header), scale)]
        identifying = [text for text in image.texts if text.identifying]
        found = [text for text in identifying if _covered(text.box, regions)]
        split.identifying_lines += len(identifying)
        split.lines_found += len(found)
        split.missed += [f"{image.name}: {text.text}" for text in identifying if text not in found]
        if identifying:
            split.images_with_identity += 1
            split.images_found += bool(found)
        harmless = [text for text in image.texts if not text.identifying]
        split.harmless_lines += len(harmless)
        split.harmless_redacted += [f"{image.name}: {text.text}" for text in harmless if _covered(text.box, regions)]
    return split


def _covered(box: tuple[int, int, int, int], regions: list[pixel_text.Region]) -> bool:
    line = pixel_text.Region(*box)
    return sum(line.overlap(region) for region in regions) >= COVERED * line.width * line.height


def _tesseract() -> Tesseract:
    found = subprocess.run([str(REPO / "scripts" / "tools.sh"), "tesseract"], capture_output=True, text=True, timeout=900)
    if found.returncode != 0:
        raise RuntimeError(f"scripts/tools.sh tesseract failed:\n{found.stderr[-2000:]}")
    return Tesseract(found.stdout.strip().splitlines()[-1])


def _mean(values: list[float], decimals: int = 1) -> str:
    return f"{sum(values) / len(values):.{decimals}f}" if values else "-"


def run(data_dir: Path | None = None) -> dict:
    """Both corpora through Radlab's reading; prints the table and returns the figures (also saved as JSON)."""
    data_dir = data_dir or config.data_dir()
    reader = _tesseract()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        splits = [measure("tuning", corpus(data_dir), reader), measure("held-out", held_out(data_dir), reader)]
    print("\nPixel PHI (text burned into the pixels; Radlab's reading with Tesseract "
          f"{subprocess.run([reader.binary, '--version'], capture_output=True, text=True).stdout.split()[1]})")
    print(f"{'corpus':<10} {'lines found':>12} {'images found':>13} {'harmless hit':>13} {'ms screened':>12} {'ms read':>8}")
    for split in splits:
        print(f"{split.name:<10} {f'{split.lines_found}/{split.identifying_lines}':>12} "
              f"{f'{split.images_found}/{split.images_with_identity}':>13} "
              f"{f'{len(split.harmless_redacted)}/{split.harmless_lines}':>13} {_mean(split.screened_ms, 3):>12} {_mean(split.read_ms):>8}")
        for missed in split.missed:
            print(f"    missed  {missed}")
        for hit in split.harmless_redacted:
            print(f"    harmless text redacted  {hit}")
    print(f"Presidio DicomImageRedactorEngine: {PRESIDIO}")
    results = {"splits": [split.__dict__ for split in splits], "presidio": PRESIDIO}
    folder = Path(tempfile.mkdtemp(prefix="radlab-bench-pixels-"))
    (folder / "anonymization_pixels.json").write_text(json.dumps(results, indent=2))
    print(f"JSON: {folder / 'anonymization_pixels.json'}")
    return results


if __name__ == "__main__":
    run()
