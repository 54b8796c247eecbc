"""Builds DICOM instances seeded with canary PHI in every place Table E.1-1 names and every place it hides."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from io import BytesIO

import numpy as np
from pydicom.datadict import dictionary_has_tag, dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

from services.anonymization.domain.profile import Options, RuleTable

UID_CANARY = "1.2.826.0.1.3680043.99.4242"
PATIENT_NAME = "CNRYPATIENTNAME^CNRYGIVENNAME"
PATIENT_ID = "CNRYPATIENTID77"
UNLISTED_SEQUENCES = ("AnatomicRegionSequence", "DerivationCodeSequence", "ViewCodeSequence")
SKIPPED_GROUPS = (0x0000, 0x0002, 0x0004)
TEXT_VRS = {"AE", "CS", "SH", "LO", "LT", "ST", "UT", "UC", "PN", "UR"}
# What free text carries that no list in the file knows: people unrelated to the patient, dates in many formats,
# phone numbers, e-mails, other patients' IDs. Each piece is a canary; the short ones fit SH (16) and CS.
FREE_TEXT_PIECES = (
    "Dr Holloway", "03/14/1958", "555-867-5309", "MRN 84420017", "Nurse Okafor", "14.03.1958", "(617) 555-0142",
    "j.holloway@stmarys.org", "1958-03-14", "PID-7731-0042", "14 Mar 1958", "+49 30 1234567", "seen by Kowalski",
    "3/14/58", "617.555.0199", "A00912345", "March 14, 1958", "ref. Tanaka", "19580314", "acc 2231987",
)
CODED_PIECES = ("HOLLOWAY", "MRN84420017", "19580314", "KOWALSKI", "A00912345", "5558675309")


@dataclass
class Corpus:
    """The canaries planted (all must vanish) and what must survive (tag → value) for one instance."""

    canaries: set[str] = field(default_factory=set)
    retained: dict[int, object] = field(default_factory=dict)
    zeroed: set[int] = field(default_factory=set)
    dummied: set[int] = field(default_factory=set)
    counter: int = 0

    def text(self, prefix: str = "CNRY") -> str:
        self.counter += 1
        value = f"{prefix}{self.counter:05d}"
        self.canaries.add(value)
        return value

    def date(self) -> str:
        # every canary date lies in one 200-day window; the engine's shift (≥ 365 days back) leaves it
        self.counter += 1
        # 1957: no real date the tests de-identify (2000s, shifted back at most ~11 years) can land there
        value = f"1957{1 + (self.counter % 200) // 28:02d}{1 + self.counter % 28:02d}"
        self.canaries.add(value)
        return value

    def free_text(self, vr: str) -> str:
        """Free text holding canaries of several kinds, as long as `vr` allows (one piece for SH and CS)."""
        self.counter += 1
        if vr == "CS":
            pieces = [CODED_PIECES[self.counter % len(CODED_PIECES)]]
        else:
            count = 1 if vr == "SH" else 2 if vr == "LO" else 5
            pieces = [FREE_TEXT_PIECES[(self.counter * 3 + n) % len(FREE_TEXT_PIECES)] for n in range(count)]
        self.canaries.update(pieces)
        return ("T1 AX " if vr not in ("SH", "CS") else "") + ", ".join(pieces)  # vocabulary words do not vouch for the rest

    def time(self) -> str:
        self.counter += 1
        value = f"{(self.counter % 24):02d}{(self.counter * 7) % 60:02d}17.{424200 + self.counter % 100:06d}"
        self.canaries.add(value)
        return value

    def uid(self) -> str:
        self.counter += 1
        return f"{UID_CANARY}.{self.counter}"


def _value_for(corpus: Corpus, vr: str, nested_depth: int) -> object | None:
    """A canary of the right VR (None where a VR cannot carry a text canary)."""
    if vr in TEXT_VRS:
        return corpus.text() if vr != "CS" else corpus.text("CNRYCS")
    if vr == "DA":
        return corpus.date()
    if vr == "TM":
        return corpus.time()
    if vr == "DT":
        return corpus.date() + corpus.time() + "+0130"
    if vr == "UI":
        return corpus.uid()
    if vr in ("DS", "IS"):
        corpus.counter += 1
        value = f"9{corpus.counter:07d}"
        corpus.canaries.add(value)
        return value
    if vr in ("OB", "OW", "UN"):
        return corpus.text("CNRYBYTES").encode() + b"\x00" * (corpus.counter % 2)
    if vr == "SQ":
        item = Dataset()
        item.PatientName = corpus.text("CNRYSQNAME")
        item.ReferencedSOPInstanceUID = corpus.uid()
        item.CodeMeaning = PATIENT_NAME.split("^")[0] + " IN CODE"
        return Sequence([item])
    return None


def _vr(tag: int) -> str:
    return dictionary_VR(tag).split(" or ")[0]


def plant_every_row(dataset: Dataset, table: RuleTable, corpus: Corpus, options: Options, depth: int, record: bool) -> None:
    """Put a canary (or, where the options keep the row, a harmless value to check) in every listed tag."""
    for tag, rule in table.exact.items():
        if tag >> 16 in SKIPPED_GROUPS or not dictionary_has_tag(tag) or tag in (
            0x00100010, 0x00100020, 0x00080016, 0x00080018, 0x0020000D, 0x0020000E, 0x00200052,
        ):
            continue
        vr = _vr(tag)
        action, column = rule.action(options.columns())
        if action == "K":
            value = {"CS": "F", "AS": "095Y", "DS": "71.5", "LO": "NONSMOKER", "SH": "KEPT", "US": 1}.get(vr)
            if value is None:
                continue
            dataset.add(DataElement(tag, vr, value))
            if record:
                corpus.retained[tag] = "090Y" if vr == "AS" else value
            continue
        if action == "C" and vr in TEXT_VRS:
            # every third one names the patient (the engine knows that name); the others hold what it cannot know
            value = PATIENT_NAME.split("^")[0] if corpus.counter % 3 == 0 else corpus.free_text(vr)
            corpus.counter += 1
        else:
            value = _value_for(corpus, vr, depth)
        if value is None:
            continue
        dataset.add(DataElement(tag, vr, value))
        if record and action == "Z" and vr != "SQ":
            corpus.zeroed.add(tag)
        if record and action == "D" and vr in ("PN", "LO", "SH", "CS", "UT", "LT", "ST"):
            corpus.dummied.add(tag)


def _nest(table: RuleTable, corpus: Corpus, options: Options, depth: int) -> Dataset:
    item = Dataset()
    item.PatientName = corpus.text("CNRYNESTNAME")
    plant_every_row(item, table, corpus, options, depth, record=False)
    if depth < 3:
        setattr(item, UNLISTED_SEQUENCES[depth], Sequence([_nest(table, corpus, options, depth + 1)]))
    return item


def _private_blocks(dataset: Dataset, corpus: Corpus) -> None:
    block_a = dataset.private_block(0x0009, "CNRY VENDOR A", create=True)
    block_a.add_new(0x01, "LO", corpus.text())
    block_a.add_new(0x02, "PN", corpus.text())
    block_b = dataset.private_block(0x0011, "CNRY VENDOR B", create=True)
    dataset.add(DataElement(0x00110020, "LO", "CNRY VENDOR C"))  # a second creator at another offset
    dataset.add(DataElement(0x00112001, "DA", corpus.date()))
    block_b.add_new(0x05, "UT", corpus.text())
    siemens = dataset.private_block(0x0019, "SIEMENS MR HEADER", create=True)
    siemens.add_new(0x0C, "IS", "1000")  # Table E.3.10-1: safe, so kept
    siemens.add_new(0x01, "LO", corpus.text())  # same creator, not listed: removed
    inner = Dataset()
    inner.PatientName = corpus.text()
    inner.add(DataElement(0x00290010, "LO", "CNRY NESTED CREATOR"))
    inner.add(DataElement(0x00291001, "LO", corpus.text()))
    sequence = dataset.private_block(0x0029, "CNRY SEQ", create=True)
    sequence.add_new(0x10, "SQ", Sequence([inner]))


def _graphics(dataset: Dataset, corpus: Corpus) -> None:
    dataset.add(DataElement(0x60000010, "US", 16))
    dataset.add(DataElement(0x60000011, "US", 16))
    dataset.add(DataElement(0x60000040, "CS", "G"))
    dataset.add(DataElement(0x60000050, "SS", [1, 1]))
    dataset.add(DataElement(0x60000100, "US", 1))
    dataset.add(DataElement(0x60000102, "US", 0))
    dataset.add(DataElement(0x60000022, "LO", corpus.text()))
    dataset.add(DataElement(0x60003000, "OW", corpus.text("CNRYOVERLAY").encode() * 4))
    dataset.add(DataElement(0x60020010, "US", 16))  # an overlay in pixel bit 12 (retired style, no data)
    dataset.add(DataElement(0x60020011, "US", 16))
    dataset.add(DataElement(0x60020100, "US", 16))
    dataset.add(DataElement(0x60020102, "US", 12))
    dataset.add(DataElement(0x50000005, "US", 2))
    dataset.add(DataElement(0x50000022, "LO", corpus.text()))
    dataset.add(DataElement(0x50003000, "OB", corpus.text("CNRYCURVE").encode()))
    icon = Dataset()
    icon.Rows, icon.Columns, icon.BitsAllocated = 2, 2, 8
    icon.PixelData = corpus.text("CNRYICN").encode()[:4]
    dataset.IconImageSequence = Sequence([icon])


def pixels() -> np.ndarray:
    """16 × 16 12-bit ramp; the caller sets bit 12 where the hidden overlay draws."""
    return (np.arange(256, dtype=np.uint16).reshape(16, 16) * 13) % 4096


def build_instance(
    table: RuleTable, options: Options = Options(), *, study_uid: str, instance: int, references: str | None = None,
    modality: str = "CT", burned_in: str | None = "NO", study_date: str = "20190310", acquisition_date: str = "20190312",
) -> tuple[bytes, Corpus, Dataset]:
    """One canary-seeded CT instance as Part 10 bytes, its canaries, and the dataset it was built from."""
    corpus = Corpus(counter=instance * 10000)
    dataset = Dataset()
    plant_every_row(dataset, table, corpus, options, 0, record=True)
    for keyword in UNLISTED_SEQUENCES[:1]:
        setattr(dataset, keyword, Sequence([_nest(table, corpus, options, 1)]))
    dataset.ReferencedImageSequence = Sequence([_nest(table, corpus, options, 2)])
    dataset.ContentSequence = Sequence([_nest(table, corpus, options, 2)])
    dataset.ContentSequence[0].TextValue = f"seen by {PATIENT_NAME.split('^')[0]} today"
    _private_blocks(dataset, corpus)
    _graphics(dataset, corpus)
    dataset.DocumentTitle = f"{corpus.text()} scan report.pdf"  # describes the Encapsulated Document, which the table replaces
    dataset.PatientName = PATIENT_NAME
    dataset.PatientID = PATIENT_ID
    corpus.canaries |= {"CNRYPATIENTNAME", "CNRYGIVENNAME", PATIENT_ID, "CNRY VENDOR", "CNRY SEQ", "CNRY NESTED", "CNRYPREAMBLE", UID_CANARY}
    dataset.SOPClassUID = CTImageStorage
    dataset.SOPInstanceUID = f"{UID_CANARY}.9.{instance}"
    dataset.StudyInstanceUID = study_uid
    dataset.SeriesInstanceUID = f"{UID_CANARY}.8.1"
    dataset.FrameOfReferenceUID = f"{UID_CANARY}.7.1"
    dataset.StudyDate, dataset.StudyTime = study_date, "101530.250"
    dataset.AcquisitionDate, dataset.AcquisitionTime = acquisition_date, "23:59:59"  # ACR-NEMA style time
    dataset.add(DataElement(tag_for_keyword("AcquisitionDateTime"), "DT", acquisition_date + "235959.123456-0500"))
    dataset.add(DataElement(0x00181012, "DA", "2019.03.11"))  # Date of Secondary Capture, ACR-NEMA style
    dataset.Modality = modality
    if burned_in is not None:
        dataset.BurnedInAnnotation = burned_in
    dataset.SeriesDescription = "AXIAL SOFT TISSUE"  # acquisition words only: Clean Descriptors keeps it
    dataset.StudyDescription = "HEAD W/O CONTRAST 3mm"
    dataset.SliceThickness, dataset.ImageType, dataset.Manufacturer = "2.5", ["ORIGINAL", "PRIMARY", "AXIAL"], "ACME"
    dataset.InstanceNumber = instance
    corpus.retained |= {tag_for_keyword("SeriesDescription"): "AXIAL SOFT TISSUE", tag_for_keyword("SliceThickness"): "2.5",
                        tag_for_keyword("StudyDescription"): "HEAD W/O CONTRAST 3mm", tag_for_keyword("Manufacturer"): "ACME", tag_for_keyword("Modality"): modality}
    if references:
        reference = Dataset()
        reference.ReferencedSOPClassUID, reference.ReferencedSOPInstanceUID = CTImageStorage, references
        dataset.SourceImageSequence = Sequence([reference])
    dataset.Rows = dataset.Columns = 16
    dataset.SamplesPerPixel, dataset.PhotometricInterpretation = 1, "MONOCHROME2"
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit, dataset.PixelRepresentation = 16, 12, 11, 0
    image = pixels()
    image[2:6, 2:12] |= 1 << 12
    dataset.PixelData = image.tobytes()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = CTImageStorage, dataset.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.SourceApplicationEntityTitle = "CNRYAETITLE"
    corpus.canaries.add("CNRYAETITLE")
    dataset.file_meta = meta
    dataset.preamble = b"CNRYPREAMBLE".ljust(128, b"\x00")
    output = BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset.save_as(output, enforce_file_format=True)
    return output.getvalue(), corpus, dataset
