"""Text burned into the pixels: which images are read, the page a reader sees, which lines identify someone, their redaction.

Every frame is read, but a cine costs about what one image does: a frame whose 8×8 block means repeat a kept frame's
(within lossy noise) is skipped; up to two distinct frames are read each; beyond that the reader is shown two pages,
the brightest and the darkest value each pixel takes over the frames, where the overlay every frame shares keeps its
pixels and text only some frames carry stands out as it does against the image under it. Regions found are filled in
every frame.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian
from scipy import ndimage

from services.anonymization.domain.steps import BURNS_IN_TEXT


@dataclass(frozen=True)
class Region:
    """A rectangle of pixels of the instance: left, top, width, height."""

    x: int
    y: int
    width: int
    height: int

    def overlap(self, other: Region) -> int:
        """Pixels the two rectangles share."""
        across = min(self.x + self.width, other.x + other.width) - max(self.x, other.x)
        down = min(self.y + self.height, other.y + other.height) - max(self.y, other.y)
        return max(0, across) * max(0, down)

    def __str__(self) -> str:
        return f"{self.width}x{self.height} at ({self.x},{self.y})"


@dataclass(frozen=True)
class Word:
    """One word a text reader found: its text, where it is on the page, and which line it is on."""

    text: str
    region: Region
    line: tuple[int, ...]  # words with the same value are on one line


class TextReader(Protocol):
    """The port to an OCR: the words on a page (8-bit grey, dark text on a light background); TextReaderFailed when it cannot."""

    def read(self, page: np.ndarray) -> list[Word]: ...


class TextReaderFailed(RuntimeError):
    """The text reader failed on a page: the instance is held rather than released unread."""


@dataclass(frozen=True)
class TextFinding:
    """A line of burned-in text that identifies someone: its region in the instance's pixels and why (never the text)."""

    region: Region
    why: str

    def __str__(self) -> str:
        return f"{self.region}: {self.why}"


# Image types whose pixels are made for people to read: scouts carry the patient's name and the study's date,
# screen saves and secondary captures whatever was on the screen.
_READ_IMAGE_TYPES = frozenset({"SECONDARY", "LOCALIZER", "SCREEN SAVE", "DOSE_INFO", "DOSE REPORT", "REPORT"})
# Projection radiographs often carry the name or the site in a corner; their borders are looked at before reading.
_RADIOGRAPHS = frozenset({"CR", "DX", "MG", "RG", "PX", "IO"})
_SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
_ULTRASOUND = ("1.2.840.10008.5.1.4.1.1.6.", "1.2.840.10008.5.1.4.1.1.3.")
_VISIBLE_LIGHT = "1.2.840.10008.5.1.4.1.1.77."


def reading_reason(burned_in_annotation: str, modality: str, sop_class: str, image_type: list[str]) -> str | None:
    """Why an instance's pixels must be read for text, from its header's Burned In Annotation, Modality, SOP Class UID
    and Image Type (the engines pass them as they read the header), or None: CT and MR slices, and every image with no
    sign of text, are passed without decoding their pixels."""
    burned, modality = burned_in_annotation.strip().upper(), modality.strip().upper()
    types = {value.strip().upper() for value in image_type}
    if burned == "YES":
        return "Burned In Annotation is YES"
    if modality in BURNS_IN_TEXT:
        return f"modality {modality} often burns text in"
    if sop_class.startswith(_SECONDARY_CAPTURE) or sop_class.startswith(_ULTRASOUND) or sop_class.startswith(_VISIBLE_LIGHT):
        return "a secondary capture, ultrasound or visible-light image"
    if found := types & _READ_IMAGE_TYPES:
        return f"image type {sorted(found)[0]}"
    if modality in _RADIOGRAPHS:
        return f"a projection radiograph ({modality})"
    return None


def grey(frame: np.ndarray, photometric: str) -> np.ndarray:
    """A decoded frame as 8-bit grey as a viewer shows it (the brightest channel of colour, so coloured text stands out)."""
    return grey_frames(frame[None], photometric)[0]


def grey_frames(frames: np.ndarray, photometric: str) -> np.ndarray:
    """Decoded frames ([frame, row, column(, sample)]) as 8-bit grey, one stretch for all so equal pixels stay equal."""
    values = frames.max(axis=3) if frames.ndim == 4 else frames
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros(values.shape, np.uint8)
    scaled = np.empty(values.shape, np.uint8)
    for index, frame in enumerate(values):  # one frame at a time: a cine in float would be four times its size
        stretched = (frame.astype(np.float32) - low) * (255.0 / (high - low))
        scaled[index] = np.rint(255.0 - stretched if photometric == "MONOCHROME1" else stretched)
    return scaled


# Two frames repeat each other when no 8×8 block's mean grey differs by more than this (lossy re-encoding's noise).
_BLOCK = 8
_REPEAT_TOLERANCE = 3.0
# Up to this many distinct frames are each read; more (a cine whose anatomy moves) are read through two projections.
_FRAMES_READ_ONE_BY_ONE = 2


def frames_to_read(frames: np.ndarray) -> list[np.ndarray]:
    """The 8-bit grey images a reader is shown so that every frame of an instance (`frames`: grey_frames) is read, but
    cheaply: a frame repeating one already kept (by 8×8 block means, within lossy noise) is not read again; up to two
    distinct frames are read each; beyond that, the brightest and the darkest value each pixel takes in any frame are
    read, two pages in all. Text every frame shares has the same pixels in both, and text only some frames carry stands
    out in one of them wherever the other frames are darker (or brighter) there, as text is against the image under it."""
    distinct: list[np.ndarray] = []
    signatures: list[np.ndarray] = []
    for frame in frames:
        signature = _block_means(frame)
        if not any(np.abs(signature - kept).max() <= _REPEAT_TOLERANCE for kept in signatures):
            signatures.append(signature)
            distinct.append(frame)
    if len(distinct) <= _FRAMES_READ_ONE_BY_ONE:
        return distinct
    brightest, darkest = distinct[0].copy(), distinct[0].copy()
    for frame in distinct[1:]:
        np.maximum(brightest, frame, out=brightest)
        np.minimum(darkest, frame, out=darkest)
    return [brightest, darkest]


def _block_means(frame: np.ndarray) -> np.ndarray:
    """The mean of each 8×8 block (the last row and column of blocks padded with their edge)."""
    padded = np.pad(frame, ((0, -frame.shape[0] % _BLOCK), (0, -frame.shape[1] % _BLOCK)), mode="edge").astype(np.float32)
    rows, columns = padded.shape[0] // _BLOCK, padded.shape[1] // _BLOCK
    return padded.reshape(rows, _BLOCK, columns, _BLOCK).mean(axis=(1, 3))


# Strokes of text up to this many pixels wide stand out from the smooth image around them (a top-hat's size).
_STROKE = 15
# Below this many grey levels a stroke is no text anyone reads.
_FAINTEST = 24
_BORDER = 0.2  # the share of a radiograph's width and height at each edge where text is looked for


def page(image: np.ndarray) -> tuple[np.ndarray, int]:
    """The page a text reader is shown, and how much it was enlarged: thin strokes brighter or darker than the ground
    around them (each cluster of strokes taken in the polarity its surroundings say), stretched to black on white,
    anatomy and gradients flattened away; small images are enlarged so small type is large enough to read."""
    bright = ndimage.white_tophat(image, size=(_STROKE, _STROKE)).astype(np.float32)
    dark = ndimage.black_tophat(image, size=(_STROKE, _STROKE)).astype(np.float32)
    strokes = np.zeros_like(bright)
    marked = np.maximum(bright, dark) > _FAINTEST
    # Letters of a line join into one cluster; the ring just outside it is its ground.
    clusters, _count = ndimage.label(ndimage.binary_dilation(marked, structure=np.ones((3, _STROKE), bool)))
    height, width = image.shape
    for found in ndimage.find_objects(clusters):
        rows, columns = found
        top, bottom = max(0, rows.start - 3), min(height, rows.stop + 3)
        left, right = max(0, columns.start - 3), min(width, columns.stop + 3)
        around = image[top:bottom, left:right].astype(np.float32)
        ring = np.ones(around.shape, bool)
        ring[rows.start - top:rows.stop - top, columns.start - left:columns.stop - left] = False
        inside = image[found].astype(np.float32)
        ground = float(np.median(around[ring])) if ring.any() else float(np.median(inside))
        # Text brighter than its ground lifts the top of the cluster's values; the ground between letters does not sink it.
        chosen = bright if np.percentile(inside, 95) - ground >= ground - np.percentile(inside, 5) else dark
        cluster = chosen[found]
        strongest = max(float(np.percentile(cluster, 99)), 2.0 * _FAINTEST)  # each line as black as the next, faint or not
        strokes[found] = np.maximum(strokes[found], np.clip((cluster - _FAINTEST / 2) * (255.0 / strongest), 0, 255))
    drawn = (255 - strokes).astype(np.uint8)
    scale = 3 if max(image.shape) <= 700 else 2 if max(image.shape) <= 1100 else 1
    if scale > 1:
        drawn = np.kron(drawn, np.ones((scale, scale), np.uint8))
    return drawn, scale


def border_has_strokes(image: np.ndarray) -> bool:
    """Whether the borders of an image hold anything like type: a radiograph whose corners are bare is not read."""
    strokes = np.maximum(ndimage.white_tophat(image, size=(_STROKE, _STROKE)), ndimage.black_tophat(image, size=(_STROKE, _STROKE)))
    marked = strokes > 2 * _FAINTEST
    height, width = image.shape
    band_y, band_x = max(1, int(height * _BORDER)), max(1, int(width * _BORDER))
    inner = marked[band_y:height - band_y, band_x:width - band_x]
    border = int(marked.sum()) - int(inner.sum())
    return border >= 40


# What an OCR'd line must not say. Dates: day, month and year in any order with / . - or spaces, month names,
# and 8-digit dates; phone numbers; long numbers and codes mixing letters with 5+ digits (record numbers, accessions).
_MONTHS = "JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|SEPT|OCT|NOV|DEC"
_PATTERNS = (
    ("date", re.compile(r"\b\d{1,4}\s?[/.\-]\s?\d{1,2}\s?[/.\-]\s?\d{2,4}\b")),
    ("date", re.compile(rf"\b\d{{1,2}}[\s\-./]*({_MONTHS})[A-Z]*[\s\-./,]*\d{{2,4}}\b")),
    ("date", re.compile(rf"\b({_MONTHS})[A-Z]*[\s\-./]*\d{{1,2}}(ST|ND|RD|TH)?[\s,\-./]*\d{{4}}\b")),
    ("date", re.compile(r"\b(18|19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])\b")),
    ("phone number", re.compile(r"(\+\d{1,3}[\s.\-]?)?\(?\d{3}\)?[\s.\-]?\d{3}[\s.\-]\d{4}\b")),
    ("record number", re.compile(r"\b[A-Z]{0,4}[\-#:]?\d[\d\-]{4,}\d\b")),
    ("label of identity", re.compile(r"\b(NAME|PATIENT|PAT|DOB|D\.O\.B|BIRTH|BORN|MRN|ACC|ACCESSION|SSN|PESEL|INSURANCE)\b")),
    # A title before a name names a person (MR and MS would be modalities).
    ("physician name", re.compile(r"\b(DR|DOCTOR|PROF|REF|REFERRING|PHYSICIAN|ATTENDING)\b")),
    ("institution", re.compile(r"\b(HOSPITAL|HOSP|CLINIC|KLINIK\w*|KLINIKUM|MED\.? CTR|MEDICAL CENTER|INFIRMARY|SPITAL)\b")),
)
# Attributes whose values identify someone when they appear in the pixels, and what to call each.
_IDENTIFIERS = (
    ("PatientName", "patient name"), ("PatientID", "patient ID"), ("OtherPatientIDs", "patient ID"),
    ("PatientBirthDate", "birth date"), ("AccessionNumber", "accession number"), ("InstitutionName", "institution"),
    ("ReferringPhysicianName", "physician name"), ("PerformingPhysicianName", "physician name"),
    ("OperatorsName", "operator name"), ("StudyID", "study ID"), ("PatientAddress", "address"),
)
# Words of institution names every hospital shares: matching them alone says nothing.
_COMMON_WORDS = frozenset({
    "THE", "AND", "SAINT", "GENERAL", "HOSPITAL", "MEDICAL", "CENTER", "CENTRE", "CLINIC", "UNIVERSITY", "HEALTH",
    "REGIONAL", "COUNTY", "CITY", "MEMORIAL", "CHILDREN", "CHILDRENS", "RADIOLOGY", "IMAGING", "INSTITUTE", "DEPARTMENT",
})


def identifiers(dataset: Dataset) -> dict[str, str]:
    """What the header says about who this is, as the words OCR would read (upper case, letters and digits only):
    each name part, ID, date in several spellings → why it identifies."""
    found: dict[str, str] = {}
    for keyword, why in _IDENTIFIERS:
        value = dataset.get(keyword)
        values = list(value) if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue" else [value]
        for item in values:
            text = str(item or "").upper()
            if keyword == "PatientBirthDate" and re.fullmatch(r"\d{8}", text.strip()):
                found.update({spelling: why for spelling in _date_spellings(text.strip())})
                continue
            for part in re.split(r"[\^=\s,]+", text):
                word = _plain(part)
                if len(word) >= 3 and word not in _COMMON_WORDS and not (word.isdigit() and len(word) < 5):
                    found[word] = why
    return found


def _date_spellings(date: str) -> list[str]:
    """YYYYMMDD as OCR reads it once separators are dropped: year first, day first, month first, two-digit years."""
    year, month, day = date[:4], date[4:6], date[6:]
    spellings = [year + month + day, day + month + year, month + day + year, day + month + year[2:], month + day + year[2:]]
    return spellings + [str(int(month)) + str(int(day)) + year, str(int(day)) + str(int(month)) + year]


def _plain(word: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", word.upper())


def findings(words: list[Word], known: dict[str, str], scale: int) -> list[TextFinding]:
    """The lines among `words` that identify someone (a header identifier, spelled as OCR reads it, or a PHI pattern),
    each as its region in the instance's pixels (the page was enlarged `scale` times), padded to cover the ink."""
    lines: dict[tuple[int, ...], list[Word]] = {}
    for word in words:
        lines.setdefault(word.line, []).append(word)
    found = []
    for line in lines.values():
        why = _why_identifying(line, known)
        if why is not None:
            found.append(TextFinding(_line_region(line, scale), why))
    return found


def _why_identifying(line: list[Word], known: dict[str, str]) -> str | None:
    text = " ".join(word.text.upper() for word in line)
    squeezed = _plain(text)
    for word in line:
        plain = _plain(word.text)
        if len(plain) < 3:
            continue
        for token, why in known.items():
            if token in plain or (len(plain) >= 5 and plain in token) or _near(plain, token):
                return why
    for token, why in known.items():
        if len(token) >= 6 and token in squeezed:  # an identifier OCR split into words ("MRN 482 1937")
            return why
    for why, pattern in _PATTERNS:
        if pattern.search(text):
            return why
    return None


def _near(word: str, token: str) -> bool:
    """One OCR slip apart (a letter misread, dropped or added) for words of 5 or more, two for 9 or more."""
    allowed = 2 if len(token) >= 9 else 1 if len(token) >= 5 else 0
    if not allowed or abs(len(word) - len(token)) > allowed:
        return False
    previous = list(range(len(token) + 1))
    for i, a in enumerate(word, 1):
        current = [i]
        for j, b in enumerate(token, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b)))
        previous = current
    return previous[-1] <= allowed


def _line_region(line: list[Word], scale: int) -> Region:
    left = min(word.region.x for word in line)
    top = min(word.region.y for word in line)
    right = max(word.region.x + word.region.width for word in line)
    bottom = max(word.region.y + word.region.height for word in line)
    pad = max(2 * scale, (bottom - top) // 3)  # descenders, accents and anti-aliased edges
    left, top, right, bottom = left - pad, top - pad, right + pad, bottom + pad
    return Region(max(0, left // scale), max(0, top // scale), -(-(right - max(0, left)) // scale), -(-(bottom - max(0, top)) // scale))


# A found line's region grows along its row over ink the reader did not read (a misread tail: "MRN482" of
# "MRN4821937"; "ST OLAF" too faint to be drawn on the page): strokes a quarter as faint as the page draws, across gaps
# up to a line's height, at most this many of the line's widths each side.
_REACH_WIDTHS = 1.5


def along_the_line(finding: TextFinding, image: np.ndarray) -> TextFinding:
    """`finding` with its region grown left and right over the strokes on its row of the 8-bit grey `image` (the
    instance's pixels): the whole line is filled, not only the words that were read."""
    region = finding.region
    band = image[region.y:region.y + region.height].astype(np.float32)
    strokes = np.maximum(ndimage.white_tophat(band, size=(_STROKE, _STROKE)), ndimage.black_tophat(band, size=(_STROKE, _STROKE)))
    inked = (strokes > _FAINTEST / 4).any(axis=0)
    left, right = region.x, min(image.shape[1], region.x + region.width)
    gap_limit, reach = region.height, int(_REACH_WIDTHS * region.width)

    def furthest(start: int, step: int) -> int:
        edge, gap, column = start, 0, start + step
        while 0 <= column < image.shape[1] and abs(column - start) <= reach and gap <= gap_limit:
            gap = 0 if inked[column] else gap + 1
            edge = column if inked[column] else edge
            column += step
        return edge

    pad = region.height // 4  # the anti-aliased edge of the last stroke
    grown_left, grown_right = furthest(left, -1), furthest(right - 1, 1) + 1
    grown_left = max(0, grown_left - pad) if grown_left < left else left
    grown_right = min(image.shape[1], grown_right + pad) if grown_right > right else right
    return TextFinding(Region(grown_left, region.y, grown_right - grown_left, region.height), finding.why)


def redact(dataset: Dataset, regions: list[Region]) -> None:
    """Fill `regions` of every frame with the image's darkest value and say Burned In Annotation NO; the pixels are
    stored native (explicit VR little endian): a compressed frame is decoded, so nothing is lost twice (a lossy one
    keeps its Lossy Image Compression 01)."""
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    pixels = dataset.pixel_array.copy()  # colour as RGB, interleaved
    stack = pixels if frames > 1 else pixels[None]
    darkest = stack.min()
    for region in regions:
        stack[:, region.y:region.y + region.height, region.x:region.x + region.width] = darkest
    if dataset.get("SamplesPerPixel", 1) > 1:
        dataset.PhotometricInterpretation, dataset.PlanarConfiguration = "RGB", 0
    dataset.PixelData = stack.astype(stack.dtype.newbyteorder("<")).tobytes()
    dataset["PixelData"].VR = "OB" if dataset.BitsAllocated <= 8 else "OW"
    dataset["PixelData"].is_undefined_length = False
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset.BurnedInAnnotation = "NO"
