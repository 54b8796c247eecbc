"""Real images with a patient's identity and harmless text rendered into their pixels, made the same way every run."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image, ImageDraw, ImageFont
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.pixels import apply_color_lut, pixel_array
from pydicom.uid import ExplicitVRLittleEndian, JPEGBaseline8Bit, generate_uid

FONTS = Path("/usr/share/fonts/truetype/dejavu")
# The identity each image's header carries; the rendered text repeats it in the ways screens and printers write it.
PATIENT = {
    "PatientName": "MORALES^ELENA", "PatientID": "MRN4821937", "PatientBirthDate": "19610314",
    "InstitutionName": "ST OLAF GENERAL HOSPITAL", "AccessionNumber": "ACC7765123", "StudyDate": "20240517",
    "ReferringPhysicianName": "KOWALSKI^ADAM",
}

# The held-out corpus's patient: nothing of the detector was chosen looking at images that carry it.
OTHER_PATIENT = {
    "PatientName": "NGUYEN^THOMAS^J", "PatientID": "HX0093317", "PatientBirthDate": "19780922",
    "InstitutionName": "RIVERSIDE VALLEY CLINIC", "AccessionNumber": "RV24061158", "StudyDate": "20240611",
    "ReferringPhysicianName": "OKAFOR^GRACE",
}


@dataclass(frozen=True)
class RenderedText:
    """One line rendered into an image: where its ink is (x, y, width, height), and whether it identifies someone."""

    text: str
    box: tuple[int, int, int, int]
    identifying: bool


@dataclass(frozen=True)
class CorpusImage:
    """One DICOM instance of the corpus (Part 10 bytes), the lines rendered into it, and whether screening must read it."""

    name: str
    data: bytes
    texts: tuple[RenderedText, ...]
    read: bool


# (text, identifying, font file, size, corner); the corner picks where the line goes, the order stacks lines there.
_US_TEXT = (
    ("MORALES, ELENA", True, "DejaVuSans-Bold.ttf", 18, "bottom-left"),
    ("ID: MRN4821937", True, "DejaVuSansMono.ttf", 16, "bottom-left"),
    ("DOB 03/14/1961", True, "DejaVuSans.ttf", 16, "bottom-left"),
    ("L", False, "DejaVuSans-Bold.ttf", 26, "mid-left"),
    ("ANT", False, "DejaVuSans.ttf", 18, "mid-right"),
)
_PALETTE_TEXT = (
    ("St Olaf General Hospital", True, "DejaVuSerif.ttf", 18, "bottom-right"),
    ("Elena Morales", True, "DejaVuSansCondensed.ttf", 20, "bottom-right"),
    ("ACC7765123", True, "DejaVuSansMono-Bold.ttf", 16, "bottom-right"),
    ("5 cm", False, "DejaVuSans.ttf", 16, "bottom-left"),
)
_ECHO_TEXT = (
    ("MORALES ELENA  14.03.1961", True, "DejaVuSans.ttf", 22, "bottom-right"),
    ("Tel (555) 014-2298", True, "DejaVuSerif.ttf", 20, "bottom-right"),
    ("R", False, "DejaVuSans-Bold.ttf", 28, "mid-right"),
    ("POST", False, "DejaVuSans.ttf", 20, "bottom-left"),
)
_RADIOGRAPH_TEXT = (
    ("MORALES^ELENA", True, "DejaVuSans-Bold.ttf", 44, "top-left"),
    ("1961-03-14  MRN4821937", True, "DejaVuSansMono.ttf", 40, "top-left"),
    ("ST OLAF GENERAL HOSPITAL", True, "DejaVuSerif-Bold.ttf", 40, "bottom-right"),
    ("L", False, "DejaVuSans-Bold.ttf", 80, "mid-right"),
    ("AP", False, "DejaVuSans-Bold.ttf", 48, "bottom-left"),
)
_CAPTURE_TEXT = (
    ("Elena MORALES", True, "DejaVuSerif-Bold.ttf", 20, "top-right"),
    ("14-MAR-1961", True, "DejaVuSansCondensed-Bold.ttf", 18, "top-right"),
    ("Ref. Dr Kowalski", True, "DejaVuSans.ttf", 16, "top-right"),
    ("10 cm", False, "DejaVuSansMono.ttf", 16, "bottom-left"),
)
_SCOUT_TEXT = (
    ("MORALES, ELENA  MRN4821937", True, "DejaVuSansMono-Bold.ttf", 16, "top-left"),
    ("05/17/2024", True, "DejaVuSans.ttf", 16, "top-left"),
    ("R", False, "DejaVuSans-Bold.ttf", 22, "mid-left"),
)
_LOSSY_TEXT = (
    ("4821937", True, "DejaVuSansMono-Bold.ttf", 20, "bottom-left"),
    ("ELENA MORALES", True, "DejaVuSans-Bold.ttf", 20, "bottom-left"),
)
_HARMLESS_TEXT = (
    ("L", False, "DejaVuSans-Bold.ttf", 24, "top-left"),
    ("ANT", False, "DejaVuSans-Bold.ttf", 20, "top-right"),
    ("5 cm", False, "DejaVuSans.ttf", 18, "bottom-right"),
    ("LAT", False, "DejaVuSerif.ttf", 20, "bottom-left"),
)
_CINE_TEXT = (
    ("MORALES, ELENA", True, "DejaVuSans-Bold.ttf", 18, "mid-left"),
    ("MRN4821937", True, "DejaVuSansMono.ttf", 16, "mid-left"),
)
_HELD_OUT_US_TEXT = (
    ("NGUYEN THOMAS J", True, "DejaVuSans-Oblique.ttf", 14, "mid-left"),
    ("HX0093317", True, "DejaVuSansMono-Bold.ttf", 13, "mid-left"),
    ("RT", False, "DejaVuSans-Bold.ttf", 16, "mid-right"),
)
_HELD_OUT_ALOKA_TEXT = (
    ("Riverside Valley Clinic", True, "DejaVuSerifCondensed-Italic.ttf", 17, "mid-right"),
    ("Thomas Nguyen", True, "DejaVuSansCondensed-Bold.ttf", 19, "top-right"),
    ("22 Sep 1978", True, "DejaVuSans.ttf", 17, "top-right"),
    ("TRANS", False, "DejaVuSans-Bold.ttf", 17, "bottom-left"),
    ("2 cm", False, "DejaVuSansMono.ttf", 15, "bottom-right"),
)
_HELD_OUT_RADIOGRAPH_TEXT = (
    ("NGUYEN, THOMAS", True, "DejaVuSerif-Bold.ttf", 46, "bottom-left"),
    ("DOB: 22.09.1978", True, "DejaVuSans.ttf", 40, "bottom-left"),
    ("ACC RV24061158", True, "DejaVuSansMono.ttf", 38, "top-right"),
    ("R", False, "DejaVuSans-Bold.ttf", 90, "mid-left"),
    ("PA ERECT", False, "DejaVuSans-Bold.ttf", 42, "top-left"),
)
_HELD_OUT_CAPTURE_TEXT = (
    ("Pt: Nguyen, Thomas J", True, "DejaVuSansMono.ttf", 15, "bottom-left"),
    ("MRN HX0093317", True, "DejaVuSans-Bold.ttf", 15, "bottom-left"),
    ("Dr. G. Okafor", True, "DejaVuSerif-Italic.ttf", 16, "bottom-left"),
    ("SAG", False, "DejaVuSans.ttf", 16, "top-left"),
)
_HELD_OUT_SCOUT_TEXT = (
    ("NGUYEN^THOMAS", True, "DejaVuSans.ttf", 15, "bottom-right"),
    ("1978/09/22", True, "DejaVuSansMono.ttf", 14, "bottom-right"),
    ("Riverside Valley Clinic", True, "DejaVuSerif.ttf", 14, "top-right"),
    ("L", False, "DejaVuSans-Bold.ttf", 22, "mid-right"),
    ("H", False, "DejaVuSans-Bold.ttf", 22, "top-left"),
)
_HELD_OUT_SMALL_TEXT = (
    ("NGUYEN", True, "DejaVuSansCondensed.ttf", 12, "bottom-left"),
    ("HX0093317", True, "DejaVuSansMono.ttf", 11, "top-left"),
)
_HELD_OUT_HARMLESS_TEXT = (
    ("R", False, "DejaVuSans-Bold.ttf", 22, "top-right"),
    ("SUPINE", False, "DejaVuSans.ttf", 18, "bottom-left"),
    ("10 mm", False, "DejaVuSansMono.ttf", 16, "bottom-right"),
    ("PORTABLE", False, "DejaVuSerif-Bold.ttf", 18, "top-left"),
)


def corpus(data_dir: Path) -> list[CorpusImage]:
    """The corpus: pydicom-data's ultrasound, radiograph and secondary captures and a CT scout from `data_dir` with
    identity and harmless text rendered in (several fonts, sizes, contrasts and corners), images with harmless text
    only, and CT and MR slices screening must pass without reading."""
    ct = data_dir / "dcm_qa_ct" / "In" / "GE" / "15.dcm"
    mr = data_dir / "dcm_qa_deident" / "In" / "00001.dcm"
    return [
        _rendered("us-rgb", _testdata("US1_UNCR.dcm"), _US_TEXT, contrast=1.0),
        _rendered("us-palette", _testdata("OBXXXX1A.dcm"), _PALETTE_TEXT, contrast=0.8),
        _rendered("us-echo-lossless-jpeg", _testdata("JPGLosslessP14SV1_1s_1f_8b.dcm"), _ECHO_TEXT, contrast=0.6),
        _rendered("cr-radiograph", _testdata("RG3_UNCR.dcm"), _RADIOGRAPH_TEXT, contrast=1.0),
        _rendered("sc-test-pattern", _testdata("vlut_04.dcm"), _CAPTURE_TEXT, contrast=0.9, modality="SC"),
        _rendered("ct-scout", pydicom.dcmread(ct), _SCOUT_TEXT, contrast=1.0, image_type=("ORIGINAL", "PRIMARY", "LOCALIZER")),
        _rendered("us-lossy-jpeg", _testdata("US1_UNCR.dcm"), _LOSSY_TEXT, contrast=1.0, lossy=True),
        _rendered("us-harmless", _testdata("examples_palette.dcm"), _HARMLESS_TEXT, contrast=1.0),
        _rendered("cr-harmless", _testdata("RG1_UNCR.dcm"), _HARMLESS_TEXT, contrast=0.7),
        _rendered("ct-axial", pydicom.dcmread(ct), (), contrast=1.0, read=False),
        _rendered("mr", pydicom.dcmread(mr), (), contrast=1.0, read=False),
    ]


def cine(frame: int, frames: int = 12) -> CorpusImage:
    """pydicom-data's ultrasound cine (its first `frames` frames: a heart beating under the scanner's own text) with the
    patient's name and record number drawn into frame `frame` only, its header saying Burned In Annotation NO."""
    path = get_testdata_file("color3d_jpeg_baseline.dcm")
    dataset = _testdata("color3d_jpeg_baseline.dcm")
    pixels = np.stack([pixel_array(path, index=index) for index in range(frames)])  # YBR decoded to RGB
    dataset.PixelData, dataset.NumberOfFrames = pixels.tobytes(), frames
    dataset.PhotometricInterpretation, dataset.PlanarConfiguration = "RGB", 0
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return _rendered(f"us-cine-text-on-frame-{frame}", dataset, _CINE_TEXT, 1.0, on_frame=frame, burned_in_annotation="NO")


def held_out(data_dir: Path) -> list[CorpusImage]:
    """The held-out corpus: other pydicom-data images and another data/ CT slice, another patient, other lines in
    other fonts (oblique, italic, condensed), sizes, contrasts and corners; measured on, never tuned on. (Two small
    ultrasounds' lines first landed on the images' own burned-in text, where no one could read them: moved off it.)"""
    ct = data_dir / "dcm_qa_ct" / "In" / "GE" / "03.dcm"
    mr = data_dir / "dcm_qa_deident" / "In" / "00090.dcm"
    other = OTHER_PATIENT
    return [
        _rendered("us-small-rgb", _testdata("examples_rgb_color.dcm"), _HELD_OUT_US_TEXT, 0.9, patient=other),
        _rendered("us-aloka-palette", _testdata("gdcm-US-ALOKA-16.dcm"), _HELD_OUT_ALOKA_TEXT, 0.7, patient=other),
        _rendered("cr-chest", _testdata("RG1_UNCR.dcm"), _HELD_OUT_RADIOGRAPH_TEXT, 0.8, patient=other),
        _rendered("sc-mr-overlays", _testdata("MR-SIEMENS-DICOM-WithOverlays.dcm"), _HELD_OUT_CAPTURE_TEXT, 1.0,
                  modality="SC", patient=other),
        _rendered("ct-scout-2", pydicom.dcmread(ct), _HELD_OUT_SCOUT_TEXT, 0.75, image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"),
                  patient=other),
        _rendered("us-tiny", _testdata("color-pl.dcm"), _HELD_OUT_SMALL_TEXT, 1.0, patient=other),
        _rendered("ot-lossy-jpeg", _testdata("color-px.dcm"), _HELD_OUT_SMALL_TEXT, 1.0, modality="OT", patient=other, lossy=True),
        _rendered("cr-harmless-2", _testdata("RG3_UNCR.dcm"), _HELD_OUT_HARMLESS_TEXT, 0.9, patient=other),
        _rendered("ot-harmless", _testdata("mlut_18.dcm"), _HELD_OUT_HARMLESS_TEXT, 0.8, modality="OT", patient=other),
        _rendered("ct-axial-2", pydicom.dcmread(ct), (), 1.0, read=False, patient=other),
        _rendered("mr-2", pydicom.dcmread(mr), (), 1.0, read=False, patient=other),
    ]


def _testdata(name: str) -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(get_testdata_file(name))


def _rendered(
    name: str, dataset: Dataset, lines: tuple, contrast: float, modality: str | None = None, image_type: tuple | None = None,
    lossy: bool = False, read: bool = True, patient: dict[str, str] = PATIENT, on_frame: int | None = None,
    burned_in_annotation: str | None = None,
) -> CorpusImage:
    """`dataset` with `patient` in its header and `lines` drawn into it at `contrast` (see _drawn) — into frame
    `on_frame` only when given, the other frames kept as they are — written as explicit VR little endian or, `lossy`,
    as JPEG baseline; Burned In Annotation absent unless `burned_in_annotation` is given."""
    dataset = _native(dataset)
    for keyword, value in patient.items():
        setattr(dataset, keyword, value)
    if modality:
        dataset.Modality = modality
    if image_type:
        dataset.ImageType = list(image_type)
    dataset.pop("BurnedInAnnotation", None)
    if burned_in_annotation:
        dataset.BurnedInAnnotation = burned_in_annotation
    # Images made from one file are different instances.
    dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[name])
    pixels = dataset.pixel_array
    target = pixels if on_frame is None else pixels[on_frame]
    ink, texts = _ink(target.shape[:2], lines)
    if texts:
        drawn = _drawn(target, ink, texts, contrast)
        if on_frame is not None:
            pixels[on_frame], drawn = drawn, pixels
        dataset.PixelData = drawn.tobytes()
    if lossy:
        _as_jpeg(dataset)
    else:
        dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    output = BytesIO()
    dataset.save_as(output, enforce_file_format=True)
    return CorpusImage(name, output.getvalue(), texts, read)


def _native(dataset: Dataset) -> Dataset:
    """Native pixels (every frame), palette and compression resolved to plain grey or RGB samples."""
    pixels = dataset.pixel_array
    if dataset.PhotometricInterpretation == "PALETTE COLOR":
        pixels = (apply_color_lut(pixels, dataset) >> 8).astype(np.uint8)
        for keyword in [k for k in dataset.dir() if "Palette" in k or "LUTDescriptor" in k or "LUTData" in k]:
            delattr(dataset, keyword)
        dataset.PhotometricInterpretation, dataset.SamplesPerPixel, dataset.PlanarConfiguration = "RGB", 3, 0
        dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = 8, 8, 7
    elif dataset.get("SamplesPerPixel", 1) == 3:
        dataset.PhotometricInterpretation, dataset.PlanarConfiguration = "RGB", 0
    dataset.PixelData = pixels.tobytes()
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return dataset


def _ink(shape: tuple[int, int], lines: tuple) -> tuple[np.ndarray, tuple[RenderedText, ...]]:
    """The lines drawn (anti-aliased, 0–255) on a blank canvas of `shape`, and where each one's ink landed."""
    height, width = shape
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    margin, cursors, texts = max(8, width // 60), {}, []
    for text, identifying, font_name, size, corner in lines:
        font = ImageFont.truetype(str(FONTS / font_name), size)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        line_height = int(size * 1.4)
        stacked = cursors.get(corner, 0)
        cursors[corner] = stacked + line_height
        vertical, horizontal = corner.split("-")
        y = {"top": margin + stacked, "mid": height // 2 + stacked, "bottom": height - margin - line_height - stacked}[vertical]
        x = margin if horizontal == "left" else width - margin - (right - left)
        draw.text((x - left, y - top), text, font=font, fill=255)
        texts.append(RenderedText(text, (x, y, right - left, bottom - top), identifying))
    return np.asarray(canvas), tuple(texts)


def _drawn(pixels: np.ndarray, ink: np.ndarray, texts: tuple[RenderedText, ...], contrast: float) -> np.ndarray:
    """`pixels` with each line's `ink` blended in, bright on a dark background and dark on a light one, `contrast` of
    the way from the background to the image's extreme value."""
    drawn = pixels.astype(np.float32)
    low, high = float(np.percentile(pixels, 1)), float(np.percentile(pixels, 99.5))
    low, high = min(low, float(pixels.min()) + 1), max(high, float(pixels.max()) - 1)
    for text in texts:
        x, y, width, height = text.box
        around = (slice(max(0, y - 4), y + height + 4), slice(max(0, x - 4), x + width + 4))
        background = float(np.median(drawn[around]))
        extreme = high if background - low < high - background else low
        alpha = ink[around].astype(np.float32) / 255.0
        if pixels.ndim == 3:
            alpha = alpha[..., None]
        value = background + (extreme - background) * contrast
        drawn[around] = drawn[around] * (1 - alpha) + value * alpha
    return np.rint(drawn).astype(pixels.dtype)


def _as_jpeg(dataset: Dataset) -> None:
    """Re-encode an 8-bit RGB frame as lossy JPEG baseline (YBR_FULL_422), as many ultrasound machines send it."""
    frame = Image.fromarray(dataset.pixel_array)
    stream = BytesIO()
    frame.save(stream, format="JPEG", quality=90, subsampling=1)
    dataset.PixelData = encapsulate([stream.getvalue()])
    dataset["PixelData"].VR = "OB"
    dataset.PhotometricInterpretation, dataset.LossyImageCompression = "YBR_FULL_422", "01"
    dataset.LossyImageCompressionMethod, dataset.LossyImageCompressionRatio = "ISO_10918_1", "10"
    dataset.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
