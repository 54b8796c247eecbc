"""Attributes kept cleaned (C): kept only where the vocabulary rule vouches for them, else replaced, and reported per attribute."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from services.anonymization.domain.engine import anonymize
from services.anonymization.domain.outcome import REPLACED, VOUCHED
from services.anonymization.domain.vouched import vouched, vouched_text
from services.anonymization.rules_table import load_rule_table
from tests.phi_corpus import CODED_PIECES, FREE_TEXT_PIECES, UID_CANARY, build_instance

KEY = b"radlab-test-key-0123456789abcdef"


@pytest.mark.parametrize("text", [
    "Accelerated SAG IR-SPGR", "CT Body 3.0", "ax_asc_35sl", "dti_tra_dir16_PA_rot_SaveBySlc", "epiRT ascending",
    "Brain: Routine", "HEAD", "Liver Segmentation", "T1 AX POST 3mm", "CHEST PA", "HEAD W/O CONTRAST", "DWI b1000",
])
def test_descriptors_made_of_acquisition_words_are_vouched_for(text):
    assert vouched_text(text)


@pytest.mark.parametrize("text", [
    *FREE_TEXT_PIECES, "Research^Rorden_Prisma", "Research^MCBI_TESTING", "PET/CT Onko/Infekt", "T1 AX Holloway",
    "HEAD 12 03 58", "CHEST 617 555 0142", "T1 12:30", "HEAD 2019", "j@x.org", "T1 AX #84420017",
])
def test_names_dates_phones_ids_and_unknown_words_are_not(text):
    assert not vouched_text(text)


def test_a_coded_string_is_kept_only_when_it_is_a_defined_term_of_its_attribute():
    reason = 0x04000565  # Reason for the Attribute Modification: COERCE or CORRECT
    assert vouched(reason, "CS", ["CORRECT"])
    assert not any(vouched(reason, "CS", [piece]) for piece in CODED_PIECES)
    assert not vouched(0x00000000, "CS", ["HEAD"])  # an attribute whose terms the rule does not hold


def test_the_real_series_keep_their_vouched_descriptors_and_lose_the_rest(data_dir: Path):
    table = load_rule_table()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mr = anonymize((data_dir / "dcm_qa_deident/In/00001.dcm").read_bytes(), table, KEY)
        prisma = anonymize((data_dir / "dcm_qa_mosaic/In/ep2d_Asc_2/IM-0001-0001.dcm").read_bytes(), table, KEY)
    assert mr.dataset.SeriesDescription == "Accelerated SAG IR-SPGR"
    assert mr.report.cleaned[("SeriesDescription", VOUCHED)] == 1
    # "Rorden" is a person: the descriptors naming him are replaced (StudyDescription's basic action is X)
    assert "StudyDescription" not in prisma.dataset and b"Rorden" not in prisma.data
    assert prisma.report.cleaned[("StudyDescription", REPLACED)] == 1


def test_the_report_names_each_cleaned_attribute_and_no_value():
    table = load_rule_table()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data, planted, _dataset = build_instance(table, study_uid=f"{UID_CANARY}.6.1", instance=1)
        result = anonymize(data, table, KEY)
    cleaned = result.report.cleaned
    assert cleaned[("StudyDescription", VOUCHED)] == 1 and cleaned[("SeriesDescription", VOUCHED)] == 1
    assert cleaned[("AdditionalPatientHistory", REPLACED)] >= 1 and cleaned[("PreMedication", REPLACED)] >= 1
    assert {decision for _keyword, decision in cleaned} == {VOUCHED, REPLACED}
    assert not any(canary in repr(cleaned) for canary in planted.canaries)
    assert result.dataset.StudyDescription == "HEAD W/O CONTRAST 3mm"
