"""The dataset engine: one DICOM instance read by pydicom, the confidentiality profile applied at every depth, written back, and reported."""

from __future__ import annotations

import copy
import hashlib
from io import BytesIO

import pydicom
from pydicom.charset import default_encoding
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element, write_file_meta_info
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.uid import UID
from pydicom.valuerep import DSfloat

from services.anonymization.domain import vendor_geometry
from services.anonymization.domain.checks import check_pixel_data, check_structure, check_written
from services.anonymization.domain.keyed import Keyed, uid_text
from services.anonymization.domain.outcome import AnonymizationFailed, Deidentified, HoldKind, Identity, PseudonymEntry, Report
from services.anonymization.domain.pixel_text import reading_reason
from services.anonymization.domain.pixels import cleaned_pixel_bytes, stated_precision
from services.anonymization.domain.profile import Options, RuleTable
from services.anonymization.domain.steps import (
    AGE, DESCRIBES_CONTENT, DUMMY_VALUE, EMPTY, ENGINE_NAME, IMPLEMENTATION_CLASS_UID, KEEP, KEEP_IF_VOUCHED, PIXEL_DATA,
    RECURSE, REMOVE, REPLACE_IF_NAMED, SHIFT, UIDS, burned_in, capped_age, dummy_value, identifying_tokens, markers, plan_for,
    raw_markers, time_partner,
)
from services.anonymization.domain.vouched import vouched
from shared.dicom_bytes import LONG_VRS, UNDEFINED, header


def deidentify_dataset(data: bytes, table: RuleTable, key: bytes, tenant: str, options: Options, scan: str) -> Deidentified:
    """De-identify one instance read into a pydicom dataset (every encoding; each failure worded); raise
    AnonymizationFailed (and produce nothing) when it cannot."""
    try:
        return _Deidentifier(table, key, tenant, options).run(_read(data), scan, data)
    except AnonymizationFailed:
        raise
    except Exception as error:  # a value pydicom cannot decode, met half-way: nothing was produced
        # Only the error's type: pydicom's messages may quote the value, and the value may be PHI.
        raise AnonymizationFailed(
            f"an element of the DICOM file cannot be decoded ({type(error).__name__}); the file is damaged or "
            "non-conformant: export it again"
        ) from error


# A file written without the 128-byte preamble and 'DICM' starts with its file meta (group 0002), or, with
# no file meta either (a dataset as sent over the network), with its first group, nearly always 0008.
_BARE_STARTS = (b"\x02\x00", b"\x08\x00")
_GUESSED_SYNTAXES = {
    (True, True): pydicom.uid.ImplicitVRLittleEndian, (False, True): pydicom.uid.ExplicitVRLittleEndian,
    (False, False): pydicom.uid.ExplicitVRBigEndian,
}


def _read(data: bytes) -> Dataset:
    part10 = len(data) >= 132 and data[128:132] == b"DICM"
    if not part10 and not (len(data) >= 8 and data[:2] in _BARE_STARTS):
        raise AnonymizationFailed(
            "not DICOM (no 'DICM' marker at byte 128, nor file meta or a dataset at byte 0); "
            "export it from the PACS or modality as DICOM files"
        )
    try:
        dataset = pydicom.dcmread(BytesIO(data), force=not part10)
        _touch(dataset)
    except AnonymizationFailed:
        raise
    except (InvalidDicomError, Exception) as error:  # any parse failure means we cannot vouch for the output
        raise AnonymizationFailed(f"the DICOM file is unreadable or truncated ({type(error).__name__}: {error}); upload it again") from error
    if not part10 and not dataset.file_meta:
        dataset.file_meta.TransferSyntaxUID = _guessed_syntax(dataset)
    syntax = getattr(dataset.file_meta, "TransferSyntaxUID", None)
    if syntax is None or not UID(syntax).is_transfer_syntax:
        raise AnonymizationFailed(f"unsupported or missing transfer syntax {syntax!r}; re-export with a standard DICOM transfer syntax")
    for name, meta_name in (("SOPClassUID", "MediaStorageSOPClassUID"), ("SOPInstanceUID", "MediaStorageSOPInstanceUID")):
        if not dataset.get(name) and dataset.file_meta.get(meta_name):
            setattr(dataset, name, dataset.file_meta.get(meta_name))  # some exporters keep them only in the meta
    if not dataset.get("SOPClassUID"):  # unlike a blank SOP Instance UID (see blank_uids), a class cannot be made up
        raise AnonymizationFailed("the file has no SOP Class UID (a DICOMDIR or a fragment?); upload the image files themselves")
    if "Image Storage" in UID(dataset.SOPClassUID).name and not {0x7FE00008, 0x7FE00009, PIXEL_DATA} & set(dataset.keys()):
        raise AnonymizationFailed("the image has no pixel data (a truncated file?); upload the complete file")
    check_pixel_data(dataset, UID(syntax))
    if not UID(syntax).is_deflated:
        check_structure(data, explicit=not UID(syntax).is_implicit_VR, little=UID(syntax).is_little_endian, start=132 if part10 else 0)
    return dataset


def _guessed_syntax(dataset: Dataset) -> UID:
    """The transfer syntax of a dataset without file meta, from the encoding pydicom found its elements in;
    compressed pixel data does not say which codec made it, so that is refused."""
    pixels = dataset.get_item(PIXEL_DATA) if PIXEL_DATA in dataset else None
    if pixels is not None and (getattr(pixels, "length", 0) == UNDEFINED or getattr(pixels, "is_undefined_length", False)):
        raise AnonymizationFailed(
            "the file has compressed pixel data but no file meta to say how it was compressed; "
            "export it again as a DICOM Part 10 file"
        )
    syntax = _GUESSED_SYNTAXES.get(dataset.original_encoding)
    if syntax is None:
        raise AnonymizationFailed("the file has no file meta and its encoding cannot be told; export it again as a DICOM Part 10 file")
    return syntax


def _encode(dataset: Dataset, syntax: UID) -> bytes:
    """The instance as Part 10 bytes. Where _copies_raw (nearly every file), elements still raw (kept
    untouched, or the conformance markers encoded once) are copied byte for byte and pydicom encodes the
    rest; anything else goes through pydicom's writer whole."""
    if not _copies_raw(dataset, syntax):
        output = BytesIO()
        dataset.save_as(output, enforce_file_format=True)
        return output.getvalue()
    if any(tag >> 16 in (0x0000, 0x0002) for tag in dataset.keys()):
        raise ValueError("command or file meta elements inside the dataset")
    if PIXEL_DATA in dataset:
        dataset[PIXEL_DATA].is_undefined_length = syntax.is_compressed
    stream = DicomBytesIO()
    stream.is_implicit_VR, stream.is_little_endian = False, True
    stream.write(b"\x00" * 128 + b"DICM")
    write_file_meta_info(stream, dataset.file_meta, enforce_standard=True)
    encoding = dataset.get("SpecificCharacterSet", default_encoding)
    for tag in sorted(dataset.keys()):
        element = dataset.get_item(tag)
        value = element.value if element.is_raw else None
        vr = element.VR
        if isinstance(value, bytes) and vr is not None and element.length != UNDEFINED and (vr in LONG_VRS or len(value) <= 0xFFFF):
            stream.write(header(tag, vr, len(value)) + value)
        else:
            write_data_element(stream, element, encoding)
    return stream.getvalue()


def _copies_raw(dataset: Dataset, syntax: UID) -> bool:
    """Whether raw elements can be copied into the output as they are: explicit VR little endian, not
    deflated, read in that encoding, character set unchanged. (Every raw sequence there is one the engine
    encoded itself: _touch decoded the input's.)"""
    plain = not syntax.is_implicit_VR and syntax.is_little_endian and not syntax.is_deflated
    return plain and dataset.original_encoding == (False, True) and dataset.original_character_set == dataset._character_set


def _touch(dataset: Dataset) -> None:
    """Parse every sequence now, at every depth, so a damaged file fails here and not half-way through.
    Other values stay raw until an action needs them: what is removed or kept untouched is never decoded
    (kept ones are written back byte for byte), which is most of the engine's time saved."""
    for tag in dataset.keys():
        if _needs_decoding(dataset.get_item(tag)):
            element = dataset[tag]
            if element.VR == "SQ":
                for item in element.value:
                    _touch(item)


def _needs_decoding(raw) -> bool:
    """Whether an element must be decoded before the engine may judge it: sequences, and any element whose
    VR the file does not state (implicit VR, UN) or whose length is undefined (a sequence in disguise)."""
    return raw.VR in (None, "SQ", "UN") or getattr(raw, "length", 0) == UNDEFINED


class _Deidentifier:
    def __init__(self, table: RuleTable, key: bytes, tenant: str, options: Options):
        self.table, self.options = table, options
        self.plan = plan_for(table, options)
        self.keyed = Keyed(key, tenant)
        self.report = Report()
        self.identifying: set[str] = set()

    # ---- the run ----------------------------------------------------------------------------------------
    def run(self, dataset: Dataset, scan: str, data: bytes) -> Deidentified:
        originals = {name: uid_text(dataset.get(name, "")) for name in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")}
        instance = originals["SOPInstanceUID"] or "bytes " + hashlib.sha256(data).hexdigest()
        # What ties an instance without Study or Series UID, or without any patient identity, to others: its scan.
        group = f"scan {scan}" if scan else instance
        patient_id = str(dataset.get("PatientID", "") or "").strip()
        basis = patient_id or "|".join(
            str(dataset.get(name, "") or "").strip() for name in ("PatientName", "PatientBirthDate")
        ).strip("|") or originals["StudyInstanceUID"] or group
        self.shift = self.keyed.date_shift(basis)
        held = burned_in(str(dataset.get("BurnedInAnnotation", "") or ""), str(dataset.get("Modality", "") or ""))
        if held is not None:
            self.report.hold(*held)
        if "PixelData" in dataset:
            image_type = dataset.get("ImageType") or []
            self.report.to_read = reading_reason(
                str(dataset.get("BurnedInAnnotation", "") or ""), str(dataset.get("Modality", "") or ""),
                str(dataset.get("SOPClassUID", "") or ""),
                [str(value) for value in (image_type if isinstance(image_type, (MultiValue, list, tuple)) else [image_type])],
            )
        self._collect_identifying(dataset)
        blanks = self.keyed.blank_uids(originals, group, instance)

        self._clean(dataset)
        self._clean_overlay_bits(dataset)
        pseudonym = self.keyed.pseudonym(basis)
        dataset.PatientID = pseudonym
        self.report.pseudonyms.append(PseudonymEntry("PatientID", patient_id or basis, pseudonym))
        for name, original in originals.items():
            if original:
                self.report.pseudonyms.append(PseudonymEntry(name, original, self.keyed.uid(original)))
            else:
                setattr(dataset, name, blanks[name])
        self._mark(dataset)
        syntax = UID(dataset.file_meta.TransferSyntaxUID)
        dataset.file_meta = self._file_meta(dataset, syntax)
        dataset.preamble = b"\x00" * 128
        try:
            written = _encode(dataset, syntax)
            check_written(written, syntax)
        except Exception as error:
            raise AnonymizationFailed(f"the de-identified instance could not be encoded ({error}); report this file to Radlab") from error
        identity = Identity(
            study_uid=str(dataset.StudyInstanceUID), series_uid=str(dataset.SeriesInstanceUID),
            instance_uid=str(dataset.SOPInstanceUID), modality=str(dataset.get("Modality", "") or ""),
        )
        return Deidentified(data=written, identity=identity, report=self.report, engine="dataset")

    # ---- what counts as identifying ------------------------------------------------------------------------
    def _collect_identifying(self, dataset: Dataset) -> None:
        """Every value the profile removes or replaces, so free text that repeats one can be cleaned too."""
        for tag in dataset.keys():
            if tag.is_private:
                continue
            vr = dataset.get_item(tag).VR
            if vr == "SQ":
                for item in dataset[tag].value:
                    self._collect_identifying(item)
                continue
            if self.plan.collects(int(tag), vr):
                element = dataset[tag]
                for value in _strings(element):
                    self.identifying.update(identifying_tokens(value, element.VR))

    def _names_someone(self, element: DataElement) -> bool:
        return any(self._names_someone_in(value) for value in _strings(element))

    def _names_someone_in(self, text: str) -> bool:
        upper = text.upper()
        return any(token in upper for token in self.identifying)

    # ---- the walk ---------------------------------------------------------------------------------------
    def _clean(self, dataset: Dataset) -> None:
        pairs = self._date_time_pairs(dataset)
        creators_used: set[int] = set()
        follow = {described for content, titles in DESCRIBES_CONTENT.items() if content in dataset for described in titles}
        for tag in sorted(dataset.keys()):
            group, number = tag >> 16, tag & 0xFFFF
            if int(tag) in follow and self.plan.action(int(tag))[0] is None:
                self._empty(dataset[tag])  # it describes content the profile replaces, and often repeats its file name
            elif number == 0x0000 and group != 0x0000:
                self._remove(dataset, tag, "X")  # group lengths: retired, and wrong after any change
            elif group % 2 == 1:
                self._private(dataset, tag, creators_used)
            elif 0x5000 <= group <= 0x60FF and group % 2 == 0 and (group < 0x5100 or group >= 0x6000):
                self._remove(dataset, tag, "X")  # curves and overlays: graphics that may carry text, never kept
            else:
                self._public(dataset, tag, pairs)
        for tag in [tag for tag in dataset.keys() if tag.is_private and 0x10 <= (tag & 0xFFFF) <= 0xFF]:
            if int(tag) not in creators_used:
                self._remove(dataset, tag, "X")

    def _public(self, dataset: Dataset, tag, pairs: dict[int, str]) -> None:
        """The plan's step for this tag and VR. A value is decoded only when the step reads or changes it (a kept
        raw value is written back as it came); _touch decoded every element whose VR the file does not state."""
        step = self.plan.public(int(tag), dataset.get_item(tag).VR)
        self._apply(dataset, tag, step, pairs)

    def _apply(self, dataset: Dataset, tag, step: tuple, pairs: dict[int, str]) -> None:
        kind = step[0]
        if kind == KEEP:
            return self._count("K")
        if kind == REMOVE:
            return self._remove(dataset, tag, "X")
        if kind == REPLACE_IF_NAMED:
            text = _plain_text(dataset.get_item(tag))
            named = self._names_someone_in(text) if text is not None else self._names_someone(dataset[tag])
            return self._apply(dataset, tag, step[1], pairs) if named else self._count("K")
        if kind == KEEP_IF_VOUCHED:
            element = dataset[tag]
            kept = vouched(int(tag), element.VR, _strings(element)) and not self._names_someone(element)
            self.report.clean(step[2], kept)
            return self._count("C") if kept else self._apply(dataset, tag, step[1], pairs)
        element = dataset[tag]
        if kind == RECURSE:
            return self._recurse(element, step[1])
        if kind == UIDS:
            return self._replace_uids(element)
        if kind == SHIFT:
            return self._shift(tag, element, pairs)
        if kind == EMPTY:
            return self._empty(element)
        if kind == AGE:
            if (capped := capped_age(str(element.value or ""))) is not None:
                element.value = capped
            return self._count("K")
        assert kind == DUMMY_VALUE, kind
        element.value = dummy_value(element.VR)
        self._count("D")

    def _private(self, dataset: Dataset, tag, creators_used: set[int]) -> None:
        group, number = tag >> 16, tag & 0xFFFF
        if 0x10 <= number <= 0xFF:
            return  # a private creator stays only while an element of its block stays (decided after the walk)
        if (group, number & 0xFF) not in self.plan.safe_private_elements:
            return self._remove(dataset, tag, "X")
        creator_tag = (group << 16) | (number >> 8)
        creator = dataset.get(creator_tag)
        name = str(creator.value).strip() if creator is not None and number >= 0x1000 else None
        if name is not None and (group, name, number & 0xFF) in self.plan.safe_private and self._kept_vendor(dataset, tag, name):
            creators_used.add(creator_tag)
            return self._count("K")
        self._remove(dataset, tag, "X")

    @staticmethod
    def _kept_vendor(dataset: Dataset, tag, creator: str) -> bool:
        """Whether a safe private element stays: PS3.15's always, as read (never decoded, so written byte for byte);
        vendor geometry only as numbers (the CSA header cleaned to its numeric fields in place)."""
        group, number = tag >> 16, tag & 0xFF
        if (group, creator, number) not in vendor_geometry.PRIVATE_ROWS:
            return True
        element = dataset[tag]
        if vendor_geometry.is_csa_image_header(group, creator, number):
            try:
                cleaned = vendor_geometry.cleaned_csa(bytes(element.value or b""))
            except vendor_geometry.CsaUnreadable:
                return False
            if cleaned is None:
                return False
            element.value = cleaned
            return True
        if vendor_geometry.is_uih_tiles(group, creator, number):
            positions = vendor_geometry.tile_positions(list(element.value)) if element.VR == "SQ" else None
            if positions is None:
                return False
            element.value = Sequence([_position_item(position) for position in positions])
            return True
        return vendor_geometry.keeps_as_is(group, creator, number, element.VR)

    # ---- the actions ------------------------------------------------------------------------------------
    def _count(self, action: str) -> None:
        self.report.actions[action] += 1

    def _remove(self, dataset: Dataset, tag, action: str) -> None:
        del dataset[tag]
        self._count(action)

    def _empty(self, element: DataElement) -> None:
        element.value = Sequence([]) if element.VR == "SQ" else None
        self._count("Z")

    def _recurse(self, element: DataElement, action: str) -> None:
        for item in element.value:
            self._clean(item)
        self._count(action)

    def _replace_uids(self, element: DataElement) -> None:
        values = _strings(element)
        replaced = [self.keyed.uid(value) for value in values]
        element.value = replaced if len(replaced) > 1 else (replaced[0] if replaced else element.value)
        self._count("U")

    def _shift(self, tag, element: DataElement, pairs: dict[int, str]) -> None:
        if int(tag) in pairs:
            element.value = pairs[int(tag)]
            return self._count("C")
        convert = {"DA": self.shift.date, "DT": self.shift.datetime, "TM": self.shift.time}.get(element.VR)
        values = _strings(element)
        shifted = [convert(value) for value in values] if convert else [None]
        if any(value is None for value in shifted):
            return self._empty(element)  # a value we cannot read as a date may hold anything
        element.value = shifted if len(shifted) > 1 else (shifted[0] if shifted else element.value)
        self._count("C")

    def _date_time_pairs(self, dataset: Dataset) -> dict[int, str]:
        """Shifted values for each (…Date, …Time) pair at this level, moved together as one instant."""
        shifted: dict[int, str] = {}
        for tag in dataset.keys():
            if tag.is_private or dataset.get_item(tag).VR != "DA" or (partner_tag := time_partner(int(tag))) is None:
                continue
            element, partner = dataset[tag], dataset.get_item(partner_tag)
            if partner is None or element.VM != 1 or partner.VR != "TM" or (partner := dataset[partner_tag]).VM != 1:
                continue
            pair = self.shift.date_and_time(str(element.value), str(partner.value))
            if pair is not None:
                shifted[int(element.tag)], shifted[int(partner.tag)] = pair
        return shifted

    def _clean_overlay_bits(self, dataset: Dataset) -> None:
        """Zero pixel bits outside Bits Stored (sign bits for signed data): where retired overlays hide.
        Compressed pixel data is not re-encoded: an instance with such bits set is held for review."""
        if PIXEL_DATA not in dataset:
            return
        allocated, stored = int(dataset.get("BitsAllocated", 0)), int(dataset.get("BitsStored", 0) or 0)
        if allocated not in (8, 16, 32) or not 0 < stored < allocated:
            return
        syntax = UID(dataset.file_meta.TransferSyntaxUID)
        if syntax.is_encapsulated:
            if not self.report.held:
                self.report.hold(HoldKind.HIDDEN_OVERLAY_BITS, _hidden_bits_reason(dataset, stored))
            return
        cleaned = cleaned_pixel_bytes(
            dataset.PixelData, allocated, stored, int(dataset.get("HighBit", stored - 1)),
            int(dataset.get("PixelRepresentation", 0)) == 1, big_endian=syntax == pydicom.uid.ExplicitVRBigEndian,
        )
        if cleaned is not None:
            dataset.PixelData = cleaned
            self.report.overlay_bits_cleared = True
            self._count("C")

    def _mark(self, dataset: Dataset) -> None:
        """The conformance markers; the same for every instance of a profile, so when the output keeps the
        input's encoding they are set as elements encoded once (immutable, shared) and copied as they are."""
        if _copies_raw(dataset, UID(dataset.file_meta.TransferSyntaxUID)):
            for element in raw_markers(self.options, self.table.edition, self.table.edition_rows):
                dataset[element.tag] = element
        else:
            dataset.update(copy.deepcopy(markers(self.options, self.table.edition, self.table.edition_rows)))

    def _file_meta(self, dataset: Dataset, syntax: UID) -> FileMetaDataset:
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = dataset.SOPClassUID
        meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
        meta.TransferSyntaxUID = syntax
        meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
        meta.ImplementationVersionName = ENGINE_NAME
        return meta


def _strings(element: DataElement) -> list[str]:
    value = element.value
    if value is None or isinstance(value, (bytes, bytearray)):
        return []
    values = list(value) if isinstance(value, (MultiValue, list, tuple)) else [value]
    return [str(item) for item in values if item is not None and str(item) != ""]


def _plain_text(raw) -> str | None:
    """A still-raw text value as a string when its bytes read the same in every DICOM character set
    (7-bit, no ISO 2022 escape), so it can be searched without decoding; None otherwise."""
    value = raw.value if raw.is_raw else None
    if not isinstance(value, bytes) or not value.isascii() or b"\x1b" in value:
        return None
    return value.decode("ascii")


def _hidden_bits_reason(dataset: Dataset, stored: int) -> str | None:
    """Why a compressed image must be reviewed: a decoded value uses bits above Bits Stored (an overlay may
    hide there), or it cannot be decoded to check. Frames whose header states a precision within Bits
    Stored cannot hold such bits and are not decoded."""
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    precisions = [stated_precision(frame) for frame in pydicom.encaps.generate_frames(dataset.PixelData, number_of_frames=frames)]
    if all(precision is not None and precision <= stored for precision in precisions):
        return None
    signed = int(dataset.get("PixelRepresentation", 0)) == 1
    lowest, highest = (-(1 << (stored - 1)), (1 << (stored - 1)) - 1) if signed else (0, (1 << stored) - 1)
    try:
        for frame in pydicom.pixels.iter_pixels(dataset, raw=True, correct_unused_bits=False):
            if int(frame.min()) < lowest or int(frame.max()) > highest:
                return (
                    f"the compressed pixel data sets bits above Bits Stored ({stored}), where overlays hide; "
                    "review the image and re-export it without overlays"
                )
    except Exception as error:  # a codec this machine lacks: the bits cannot be checked, so a person must look
        return f"the compressed pixel data could not be decoded to check for hidden overlay bits ({type(error).__name__}); review the image"
    return None


def _position_item(position: list[float]) -> Dataset:
    """A sequence item holding only an Image Position (Patient)."""
    item = Dataset()
    item.ImagePositionPatient = [DSfloat(value, auto_format=True) for value in position]
    return item
