"""The text reader burned-in text is found with: the Tesseract OCR binary (Debian `tesseract-ocr`), run on one page at a time."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess

import numpy as np
from PIL import Image

from services.anonymization.domain.pixel_text import Region, TextReaderFailed, Word

# Sparse text: words anywhere on the page, in no particular order (corners of a scan, not a printed page).
_SPARSE = "11"
_WORD_LEVEL = "5"


class Tesseract:
    """Reads a page with the `tesseract` binary (its English model), words with their boxes and lines."""

    def __init__(self, binary: str = "tesseract", timeout_s: float = 60.0):
        self.binary, self.timeout_s = binary, timeout_s

    @classmethod
    def found(cls, binary: str = "tesseract") -> Tesseract | None:
        """The reader when `binary` is installed (a path, or a name on PATH), else None."""
        path = shutil.which(binary)
        return cls(path) if path else None

    def read(self, page: np.ndarray) -> list[Word]:
        png = io.BytesIO()
        Image.fromarray(page).save(png, format="PNG", compress_level=1)
        try:
            done = subprocess.run(
                [self.binary, "stdin", "stdout", "--psm", _SPARSE, "-l", "eng", "tsv"],
                input=png.getvalue(), capture_output=True, timeout=self.timeout_s,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise TextReaderFailed(f"tesseract could not read the pixels ({type(error).__name__})") from None
        if done.returncode != 0:
            raise TextReaderFailed(f"tesseract failed with exit status {done.returncode}")
        return _words(done.stdout.decode("utf-8", errors="replace"))


def _words(tsv: str) -> list[Word]:
    """Tesseract's TSV (one row per page, block, paragraph, line and word) as the words that hold text."""
    words = []
    for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        text = (row.get("text") or "").strip()
        if row.get("level") != _WORD_LEVEL or not text:
            continue
        region = Region(int(row["left"]), int(row["top"]), int(row["width"]), int(row["height"]))
        line = (int(row["block_num"]), int(row["par_num"]), int(row["line_num"]))
        words.append(Word(text, region, line))
    return words
