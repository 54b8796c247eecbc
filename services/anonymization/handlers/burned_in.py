"""Text burned into the pixels: read in every frame where the header says it may be, then held or redacted as the profile chose."""

from __future__ import annotations

from dataclasses import dataclass, replace
from io import BytesIO

import numpy as np
import pydicom
from PIL import Image, ImageDraw
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut, apply_voi_lut, pixel_array

from radlab.anonymization.v1 import anonymization_service_pb2 as pb
from services.anonymization.domain import pixel_text
from services.anonymization.domain.outcome import Deidentified, HoldKind

HOLD, REDACT, OFF = "hold", "redact", "off"
# Holds the header's flags made, which a read of the pixels settles when the site redacts.
_SETTLED_BY_READING = frozenset({HoldKind.BURNED_IN_ANNOTATION, HoldKind.RISKY_IMAGE_TYPE})
# A frame that cannot be decoded (a codec missing, data cut short) or a reader that fails: held, never released unread.
_UNREADABLE = (pixel_text.TextReaderFailed, ValueError, RuntimeError, NotImplementedError, AttributeError, KeyError)


@dataclass(frozen=True)
class BurnedInText:
    """How text burned into the pixels is handled: `policy` (HOLD: an instance whose text names someone is held for a
    person; REDACT: that text is filled and the instance released, the header's own flags settled by the reading; OFF:
    only the header's flags count) and the text reader (None: not installed, so what needs reading is held)."""

    policy: str = OFF
    reader: pixel_text.TextReader | None = None

    def for_profile(self, chosen: int) -> BurnedInText:
        """This handling under a dataset's profile: its BurnedInTextPolicy, or the deployment's where UNSPECIFIED."""
        return replace(self, policy=_POLICIES[chosen]) if chosen in _POLICIES else self


_POLICIES = {pb.BURNED_IN_TEXT_POLICY_HOLD: HOLD, pb.BURNED_IN_TEXT_POLICY_REDACT: REDACT, pb.BURNED_IN_TEXT_POLICY_OFF: OFF}


def screened(original: bytes, result: Deidentified, burned_in: BurnedInText) -> Deidentified:
    """`result` once its pixels were checked for identifying text: unchanged when the header gives no reason to read
    them, held (TEXT_DETECTED, the regions and why in the reason, never the text), or redacted (the regions filled,
    Burned In Annotation NO, the regions in the report)."""
    report = result.report
    if burned_in.policy == OFF or (burned_in.policy == HOLD and report.held):
        return result
    if report.held and report.held_kind not in _SETTLED_BY_READING:
        return result  # hidden overlay bits: a person looks at it anyway
    reason = report.to_read
    if reason is None:
        return result  # CT and MR slices: nothing parsed, nothing decoded
    if burned_in.reader is None:
        report.release()
        report.hold(HoldKind.TEXT_DETECTED, f"{reason}, but no text reader is installed to read its pixels; install "
                    "tesseract-ocr (scripts/tools.sh tesseract) and upload again, or review it")
        return result
    try:
        header = result.dataset
        frames = pixel_text.grey_frames(_frames(result.data, header), str(header.get("PhotometricInterpretation", "")))
        known = pixel_text.identifiers(pydicom.dcmread(BytesIO(original), stop_before_pixels=True, force=True))
        found = _read(pixel_text.frames_to_read(frames), known, burned_in.reader)
    except _UNREADABLE as error:
        report.release()
        report.hold(HoldKind.TEXT_DETECTED, f"{reason}, but its pixels could not be read ({_said(error)}); review it")
        return result
    where = "; ".join(str(finding) for finding in found)
    if not found:
        if burned_in.policy == REDACT:
            report.release()
        return result
    if burned_in.policy == HOLD:
        report.hold(HoldKind.TEXT_DETECTED, f"identifying text burned into the pixels ({where}); check the preview, then "
                    "release it with those regions redacted, or discard it")
        return result
    try:
        data = redacted(result.dataset, [finding.region for finding in found])
    except _UNREADABLE as error:
        report.release()
        report.hold(HoldKind.TEXT_DETECTED, f"identifying text burned into the pixels ({where}) could not be redacted "
                    f"({_said(error)}); review it")
        return result
    report.release()
    report.redacted.extend(str(finding) for finding in found)
    return Deidentified(data, result.identity, report, result.engine)


def _read(images: list[np.ndarray], known: dict[str, str], reader: pixel_text.TextReader) -> list[pixel_text.TextFinding]:
    """The identifying lines found in any of `images`, a line found again where one already was counted once."""
    found: list[pixel_text.TextFinding] = []
    for image in images:
        for finding in _lines(image, known, reader):
            area = finding.region.width * finding.region.height
            if not any(2 * finding.region.overlap(seen.region) > min(area, seen.region.width * seen.region.height) for seen in found):
                found.append(finding)
    return found


def _lines(image: np.ndarray, known: dict[str, str], reader: pixel_text.TextReader) -> list[pixel_text.TextFinding]:
    """The identifying lines of one 8-bit grey image, each region grown along its row over ink the reader missed."""
    page, scale = pixel_text.page(image)
    return [pixel_text.along_the_line(finding, image) for finding in pixel_text.findings(reader.read(page), known, scale)]


def redacted(dataset: Dataset, regions: list[pixel_text.Region]) -> bytes:
    """The de-identified instance `dataset` as Part 10 bytes with `regions` filled in every frame (pixel_text.redact)."""
    pixel_text.redact(dataset, regions)
    output = BytesIO()
    dataset.save_as(output, enforce_file_format=True)
    return output.getvalue()


def _said(error: Exception) -> str:
    """What went wrong, in the reader's or decoder's own words where they are ours to show (never pixel values or text)."""
    return str(error) if isinstance(error, pixel_text.TextReaderFailed) else f"the decoder failed: {type(error).__name__}"


class FrameOutOfRange(ValueError):
    """The frame asked for is not in the instance."""


def preview(data: bytes, frame_index: int, reader: pixel_text.TextReader | None) -> pb.GetHeldInstancePreviewResponse:
    """Frame `frame_index` of the DICOM instance `data` as a PNG windowed with its own window (the first, else its full
    range), a red box round each region `reader` (when installed) finds identifying."""
    header = pydicom.dcmread(BytesIO(data), stop_before_pixels=True, force=True)
    frames = int(header.get("NumberOfFrames", 1) or 1)
    if not 0 <= frame_index < frames:
        raise FrameOutOfRange(f"frame_index {frame_index} is out of range: the instance has {frames} frame(s), from 0")
    frame = _frame(data, header, frame_index)
    photometric = str(header.get("PhotometricInterpretation", ""))
    shown = frame
    if frame.ndim == 2:
        windowed = apply_voi_lut(frame, header, index=0) if "WindowCenter" in header or "VOILUTSequence" in header else frame
        shown = pixel_text.grey(windowed, photometric)
    picture = Image.fromarray(shown.astype(np.uint8)).convert("RGB")
    if reader is not None:
        draw = ImageDraw.Draw(picture)
        for finding in _lines(pixel_text.grey(frame, photometric), pixel_text.identifiers(header), reader):
            region = finding.region
            draw.rectangle((region.x, region.y, region.x + region.width - 1, region.y + region.height - 1), outline=(255, 0, 0), width=2)
    png = BytesIO()
    picture.save(png, format="PNG")
    return pb.GetHeldInstancePreviewResponse(png=png.getvalue(), width=picture.width, height=picture.height, frame_count=frames)


def _frame(data: bytes, header: Dataset, index: int | None) -> np.ndarray:
    """Frame `index` of the instance (None: every frame) as a viewer shows its samples: colour as RGB (palette colour
    through its tables)."""
    frame = pixel_array(BytesIO(data), index=index)
    if str(header.get("PhotometricInterpretation", "")) == "PALETTE COLOR":
        frame = (apply_color_lut(frame, header) >> 8).astype(np.uint8)
    return frame


def _frames(data: bytes, header: Dataset) -> np.ndarray:
    """Every frame of the instance, [frame, row, column(, sample)] even when it has one."""
    frames = _frame(data, header, None)
    return frames if int(header.get("NumberOfFrames", 1) or 1) > 1 else frames[None]
