"""Text burned into the pixels, read with the real Tesseract on the burned-in corpus (pydicom-data's ultrasound, radiographs
and secondary captures and data/'s CT with text rendered in; data/ has no image with text of its own): found, held, redacted."""

from __future__ import annotations

import warnings
from io import BytesIO

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import ExplicitVRLittleEndian

from services.anonymization.domain import pixel_text
from services.anonymization.domain.engine import anonymize
from services.anonymization.domain.outcome import HoldKind
from services.anonymization.handlers.burned_in import HOLD, REDACT, BurnedInText, screened
from services.anonymization.rules_table import load_rule_table
from services.anonymization.tesseract import Tesseract
from tests.burned_in_corpus import CorpusImage, corpus
from shared.config import Settings
from tests.conftest import installed_tool

KEY = b"radlab-test-key-0123456789abcdef"
# A rendered line counts as found when a finding covers this share of its ink's box.
COVERED = 0.5


@pytest.fixture(scope="module")
def reader() -> Tesseract:
    """Tesseract, installed through scripts/tools.sh (Debian tesseract-ocr) when missing; failing to get it fails."""
    return Tesseract(installed_tool("tesseract"))


@pytest.fixture(scope="module")
def images(data_dir) -> list[CorpusImage]:
    return corpus(data_dir)


@pytest.fixture(scope="module")
def found(images, reader) -> dict[str, list[pixel_text.TextFinding]]:
    """What reading each image the header says to read finds, by image name."""
    return {image.name: read(image, reader) for image in images if image.read}


def read(image: CorpusImage, reader: Tesseract) -> list[pixel_text.TextFinding]:
    dataset = pydicom.dcmread(BytesIO(image.data))
    page, scale = pixel_text.page(pixel_text.grey(dataset.pixel_array, dataset.PhotometricInterpretation))
    return pixel_text.findings(reader.read(page), pixel_text.identifiers(dataset), scale)


def covered(box: tuple[int, int, int, int], regions: list[pixel_text.Region]) -> bool:
    line = pixel_text.Region(*box)
    return sum(line.overlap(region) for region in regions) >= COVERED * line.width * line.height


def deidentified(image: CorpusImage, burned_in: BurnedInText):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return screened(image.data, anonymize(image.data, load_rule_table(), KEY), burned_in)


def test_screening_reads_images_that_may_carry_text_and_passes_ct_and_mr_slices(images):
    """Ultrasound, secondary captures, radiographs and a CT scout are to be read; CT and MR slices are not (their
    pixels are never decoded): the engine says which from the header it reads anyway."""
    for image in images:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert (anonymize(image.data, load_rule_table(), KEY).report.to_read is not None) == image.read, image.name


def test_every_image_with_identifying_text_is_found_and_harmless_text_is_left(images, found):
    """Each image with identity rendered in has it found (so none is released under the hold policy), 85 % of its
    lines at least (16 of 18 when written: two lines drawn over the secondary capture's line-pair pattern are not read);
    no orientation marker, scale or view label is ever taken for identity."""
    lines = hits = 0
    for image in images:
        regions = [finding.region for finding in found.get(image.name, [])]
        identifying = [text for text in image.texts if text.identifying]
        if identifying:
            assert any(covered(text.box, regions) for text in identifying), image.name
        lines += len(identifying)
        hits += sum(covered(text.box, regions) for text in identifying)
        harmless = [text.text for text in image.texts if not text.identifying and covered(text.box, regions)]
        assert harmless == [], image.name
    assert hits / lines >= 0.85, f"{hits} of {lines} identifying lines found"


def test_a_finding_says_where_and_why_never_what(images, found):
    for image in images:
        for finding in found.get(image.name, []):
            assert "MORALES" not in str(finding).upper() and "4821937" not in str(finding)
            assert " at (" in str(finding) and finding.why


def test_the_hold_policy_holds_an_image_whose_header_says_nothing_of_text(images, reader):
    """A CT scout and a radiograph (no Burned In Annotation, modalities not held by their header) are held as
    TEXT_DETECTED with the regions and why; a CT slice is released untouched; with no reader installed, a scout is held."""
    by_name = {image.name: image for image in images}
    for name in ("ct-scout", "cr-radiograph"):
        result = deidentified(by_name[name], BurnedInText(HOLD, reader))
        assert result.report.held_kind is HoldKind.TEXT_DETECTED, name
        assert " at (" in result.report.held_reason and "MORALES" not in result.report.held_reason.upper()
    axial = deidentified(by_name["ct-axial"], BurnedInText(HOLD, reader))
    assert not axial.report.held and not axial.report.redacted
    unread = deidentified(by_name["ct-scout"], BurnedInText(HOLD, None))
    assert unread.report.held_kind is HoldKind.TEXT_DETECTED and "tesseract-ocr" in unread.report.held_reason


def test_the_redact_policy_fills_the_text_and_releases_the_image(images, found, reader):
    """Every read image is released with its identifying text filled (the darkest value over each found region, in
    native pixels: the lossy JPEG one decoded, still marked lossy), Burned In Annotation NO, the regions in the
    report; read again, the redacted image shows none of the lines found before. An image found clean is released as is."""
    for image in images:
        if not image.read:
            continue
        result = deidentified(image, BurnedInText(REDACT, reader))
        regions = [finding.region for finding in found[image.name]]
        assert not result.report.held, (image.name, result.report.held_reason)
        assert len(result.report.redacted) == len(regions), image.name
        output = pydicom.dcmread(BytesIO(result.data))
        if not regions:
            assert "BurnedInAnnotation" not in output, image.name  # read and found clean: released as the engine wrote it
            continue
        assert output.BurnedInAnnotation == "NO" and output.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
        pixels = output.pixel_array
        for region in regions:
            filled = pixels[region.y:region.y + region.height, region.x:region.x + region.width]
            assert np.all(filled == pixels.min()), (image.name, str(region))
        if image.name == "us-lossy-jpeg":
            assert output.LossyImageCompression == "01" and output.PhotometricInterpretation == "RGB"
        again = [finding.region for finding in read(CorpusImage(image.name, result.data, image.texts, True), reader)]
        for text in image.texts:
            if text.identifying and covered(text.box, regions):
                assert not covered(text.box, again), (image.name, text.text)


def test_the_policy_setting_takes_hold_redact_or_off_and_refuses_anything_else():
    assert Settings.from_env({}).burned_in_text == "hold"
    assert Settings.from_env({"RADLAB_BURNED_IN_TEXT": " Redact "}).burned_in_text == REDACT
    with pytest.raises(ValueError, match="RADLAB_BURNED_IN_TEXT must be hold, redact or off"):
        Settings.from_env({"RADLAB_BURNED_IN_TEXT": "blur"})


def test_redaction_fills_every_frame_and_stores_them_native():
    """A real two-frame RLE ultrasound (pydicom-data): the region is filled in both frames, the rest of each frame
    kept, the pixels written native (explicit VR little endian) and read back the same."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = pydicom.dcmread(get_testdata_file("OBXXXX1A_rle_2frame.dcm"))
    before = dataset.pixel_array.copy()
    region = pixel_text.Region(650, 500, 120, 40)
    pixel_text.redact(dataset, [region])
    output = BytesIO()
    dataset.save_as(output, enforce_file_format=True)
    after = pydicom.dcmread(BytesIO(output.getvalue()))
    assert after.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian and after.BurnedInAnnotation == "NO"
    pixels = after.pixel_array
    inside = (slice(None), slice(region.y, region.y + region.height), slice(region.x, region.x + region.width))
    assert pixels.shape == before.shape == (2, 600, 800) and np.all(pixels[inside] == before.min())
    pixels[inside] = before[inside]
    assert np.array_equal(pixels, before)


def test_every_frame_is_read_but_repeats_once_and_a_cine_through_two_projections():
    """Repeated frames (within lossy noise) are read once; two distinct frames are read each; a cine whose image moves
    is read as its brightest and darkest projections, where a mark drawn on one frame only still shows."""
    rng = np.random.default_rng(7)
    still = rng.integers(40, 80, (64, 96), dtype=np.uint8)
    noisy = np.clip(still.astype(int) + rng.integers(-2, 3, still.shape), 0, 255).astype(np.uint8)
    assert len(pixel_text.frames_to_read(np.stack([still, noisy, still]))) == 1
    other = still.copy()
    other[10:20, 10:40] = 250
    assert [frame[15, 20] for frame in pixel_text.frames_to_read(np.stack([still, other, still]))] == [still[15, 20], 250]
    cine = np.stack([np.roll(still, shift, axis=1) for shift in range(0, 40, 4)])
    cine[6, 40:48, 50:90] = 255
    brightest, darkest = pixel_text.frames_to_read(cine)
    assert np.all(brightest[40:48, 50:90] == 255) and darkest.max() < 80
