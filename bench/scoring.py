"""Scores one anonymizer's output folder against its input: canaries left (tag walk and raw bytes), references, UIDs, pixels."""

from __future__ import annotations

import hashlib
import re
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset

IDENTITY_UIDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID")
_TEXT_VRS = {"LT", "ST", "UT", "UC"}


class CanaryFinder:
    """Finds which of a large set of canary strings occur in a byte string, fast: a regex on their 4-byte
    prefixes locates candidates, then each candidate is checked against the set by its possible lengths."""

    def __init__(self, canaries):
        self.canaries = {c.encode() if isinstance(c, str) else c for c in canaries if len(c) >= 4}
        self.numeric = {c for c in self.canaries if c.replace(b".", b"").isdigit() and c.count(b".") <= 1}
        self.lengths: dict[bytes, set[int]] = defaultdict(set)
        for canary in self.canaries:
            self.lengths[canary[:4]].add(len(canary))
        alternatives = b"|".join(re.escape(prefix) for prefix in sorted(self.lengths)) or b"(?!)"
        self.pattern = re.compile(b"(?=(" + alternatives + b"))")

    def find(self, data: bytes) -> set[str]:
        found = set()
        for match in self.pattern.finditer(data):
            start = match.start()
            for length in self.lengths[data[start:start + 4]]:
                candidate = data[start:start + length]
                if candidate in self.canaries and not (candidate in self.numeric and _inside_uid(data, start, length)):
                    found.add(candidate.decode("latin-1"))
        return found


def _inside_uid(data: bytes, start: int, length: int) -> bool:
    """A date, time or number canary seen inside a longer dotted run of digits is chance inside a new random UID."""
    left, right = start, start + length
    while left > 0 and data[left - 1:left] in b"0123456789.":
        left -= 1
    while right < len(data) and data[right:right + 1] in b"0123456789.":
        right += 1
    return data[left:right].count(b".") >= 2


def read(data: bytes) -> Dataset | None:
    """The dataset in `data`, or None when it is not readable DICOM."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pydicom.dcmread(BytesIO(data), force=True)
    except Exception:
        return None


def place_of(path: tuple, element) -> str:
    """The kind of place an element is, as the leak report names it (first rule that fits wins)."""
    keywords = [step for step in path if isinstance(step, str)]
    groups = [step for step in path if isinstance(step, int)] + [element.tag.group]
    if "FILE META" in keywords:
        return "file meta"
    if any(group % 2 for group in groups):
        return "private tags"
    if any(0x6000 <= group <= 0x60FF for group in groups):
        return "overlays"
    if any(0x5000 <= group <= 0x50FF for group in groups):
        return "curves"
    if "IconImageSequence" in keywords:
        return "icon images"
    keyword = element.keyword or ""
    if keyword == "EncapsulatedDocument" or "DocumentTitle" in keyword:
        return "documents"
    if "Address" in keyword or "Telephone" in keyword:
        return "addresses"
    if element.VR == "PN":
        return "names"
    if "Description" in keyword or "Comment" in keyword or element.VR in _TEXT_VRS or keyword in ("TextValue", "CodeMeaning"):
        return "descriptions/text"
    if element.VR in ("DA", "DT", "TM"):
        return "dates/times"
    if element.VR == "UI":
        return "UIDs"
    return "identifiers/other"


def walk(dataset: Dataset, path: tuple = ()):
    """Every (path, element) at every depth; the path names the enclosing sequences (keyword and group)."""
    for element in dataset:
        yield path, element
        if element.VR == "SQ" and element.value is not None:
            for item in element.value:
                yield from walk(item, path + (element.keyword or str(element.tag), element.tag.group))


def element_bytes(element) -> bytes:
    """The element's value as bytes for a canary search (text encoded, binary as is); sequences give nothing."""
    value = element.value
    if value is None or element.VR == "SQ":
        return b""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, (list, tuple, pydicom.multival.MultiValue)):
        return "\\".join(str(item) for item in value).encode("utf-8", "replace")
    return str(value).encode("utf-8", "replace")


def tag_walk(dataset: Dataset) -> list[tuple[str, bytes]]:
    """(place kind, value bytes) for every element of the file meta and the dataset."""
    pairs = []
    meta = getattr(dataset, "file_meta", None)
    if meta is not None:
        pairs += [("file meta", element_bytes(element)) for _path, element in walk(meta, ("FILE META",))]
    pairs += [(place_of(path, element), element_bytes(element)) for path, element in walk(dataset)]
    return pairs


@dataclass
class Planted:
    """The canaries that are really present in the input set, each with the kind of place it was put."""

    places: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_inputs(cls, folder: Path, canaries) -> "Planted":
        finder = CanaryFinder(canaries)
        planted = cls()
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            for canary in finder.find(str(path.relative_to(folder)).encode()):
                planted.places.setdefault(canary, "file names")
            data = path.read_bytes()
            dataset = read(data)
            if dataset is not None:
                for place, value in tag_walk(dataset):
                    for canary in finder.find(value):
                        planted.places.setdefault(canary, place)
            for canary in finder.find(data[:128]):
                planted.places.setdefault(canary, "preamble")
            for canary in finder.find(data):
                planted.places.setdefault(canary, "raw bytes")
        return planted


def leaks(output: Path, planted: Planted) -> dict:
    """Canaries found in the output by a tag walk and by a raw scan of every file (and its name), and where."""
    finder = CanaryFinder(planted.places)
    by_tags: set[str] = set()
    by_bytes: set[str] = set()
    for path in sorted(p for p in output.rglob("*") if p.is_file()):
        by_bytes |= finder.find(str(path.relative_to(output)).encode())
        data = path.read_bytes()
        by_bytes |= finder.find(data)
        dataset = read(data)
        if dataset is not None:
            for _place, value in tag_walk(dataset):
                by_tags |= finder.find(value)
    places = Counter(planted.places[canary] for canary in by_tags | by_bytes)
    return {
        "planted": len(planted.places),
        "tag_walk": len(by_tags),
        "raw_bytes": len(by_bytes),
        "places": dict(sorted(places.items(), key=lambda item: -item[1])),
        "examples": {canary: planted.places[canary] for canary in sorted(by_tags | by_bytes)[:12]},
    }


def _pixel_digests(dataset: Dataset) -> tuple[str, str] | None:
    """(digest of the raw pixel bytes, digest of the stored bits only) or None without pixel data."""
    if dataset is None or "PixelData" not in dataset:
        return None
    raw = bytes(dataset.PixelData or b"")
    stored = raw
    allocated, bits = int(dataset.get("BitsAllocated", 0) or 0), int(dataset.get("BitsStored", 0) or 0)
    syntax = getattr(getattr(dataset, "file_meta", None), "TransferSyntaxUID", None)
    if allocated in (8, 16, 32) and 0 < bits < allocated and syntax is not None and not pydicom.uid.UID(syntax).is_compressed:
        high = int(dataset.get("HighBit", bits - 1))
        dtype = np.dtype(f"<u{allocated // 8}")
        usable = len(raw) // dtype.itemsize * dtype.itemsize
        mask = ((1 << bits) - 1) << (high - bits + 1)
        stored = (np.frombuffer(raw[:usable], dtype=dtype) & mask).astype(dtype).tobytes()
    return hashlib.sha256(raw).hexdigest(), hashlib.sha256(stored).hexdigest()


def _datasets(folder: Path) -> list[Dataset]:
    datasets = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        dataset = read(path.read_bytes())
        if dataset is not None and ("SOPInstanceUID" in dataset or "PixelData" in dataset or "StudyInstanceUID" in dataset):
            datasets.append(dataset)
    return datasets


def _distinct(datasets: list[Dataset], name: str) -> int:
    """How many groups `name` makes; instances with it blank or missing are one group, as a reader groups them."""
    return len({str(d.get(name) or "").strip() for d in datasets})


def _references(dataset: Dataset) -> list[str]:
    return [str(element.value) for _path, element in walk(dataset)
            if element.keyword == "ReferencedSOPInstanceUID" and element.value]


def integrity(source: Path, output: Path) -> dict:
    """What the tool broke: references into the set, the study and frame-of-reference grouping, identity UIDs, pixels."""
    before, after = _datasets(source), _datasets(output)
    instances_before = {str(d.get("SOPInstanceUID", "")) for d in before}
    instances_after = {str(d.get("SOPInstanceUID", "")) for d in after} - {""}
    in_set = sum(1 for d in before for uid in _references(d) if uid in instances_before)
    resolved = sum(1 for d in after for uid in _references(d) if uid in instances_after)
    studies, series, frames = (
        (_distinct(before, name), _distinct(after, name)) for name in ("StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID")
    )
    uids_in = sum(1 for d in before for name in IDENTITY_UIDS if d.get(name))
    uids_out = sum(1 for d in after for name in IDENTITY_UIDS if d.get(name))
    originals = {str(d.get(name)) for d in before for name in IDENTITY_UIDS if d.get(name)}
    unchanged = sum(1 for d in after for name in IDENTITY_UIDS if d.get(name) and str(d.get(name)) in originals)
    digests_in = [x for x in (_pixel_digests(d) for d in before) if x]
    digests_out = [x for x in (_pixel_digests(d) for d in after) if x]
    raw_out, stored_out = Counter(x[0] for x in digests_out), Counter(x[1] for x in digests_out)
    raw_same = stored_same = 0
    for raw, stored in digests_in:
        if raw_out[raw] > 0:
            raw_out[raw] -= 1
            raw_same += 1
        if stored_out[stored] > 0:
            stored_out[stored] -= 1
            stored_same += 1
    broken = (in_set - min(in_set, resolved)) + (studies[0] != studies[1]) + (series[0] != series[1]) + (frames[0] != frames[1])
    return {
        "files_in": len(before), "files_out": len(after),
        "references_in_set": in_set, "references_resolved": min(in_set, resolved),
        "studies": studies, "series": series, "frames_of_reference": frames,
        "broken": int(broken),
        "identity_uids_in": uids_in, "identity_uids_out": uids_out, "identity_uids_unchanged": unchanged,
        "images": len(digests_in), "pixels_byte_identical": raw_same, "pixels_stored_bits_identical": stored_same,
    }
