"""Built-in coded concepts for label classes (DICOM-SEG's Segmented Property Category and Type): organs and findings."""

# Where the codes come from (all SNOMED CT, scheme "SCT"; checked when this list was written):
# - The organ names and their first codes: TotalSegmentator's own SNOMED CT mapping (wasserth/TotalSegmentator,
#   totalsegmentator/resources/totalsegmentator_snomed_mapping.csv), for the names in its "total" and "total_mr"
#   label tables (the ones in data/totalsegmentator/tests/reference_files/).
# - Every value and meaning checked against DICOM PS3.16 as pydicom ships it (pydicom.sr.codedict: CID 7150
#   categories, CID 7151/7192 anatomy, CID 7159 lesions, CID 244 laterality); where DICOM has the code, its meaning
#   is used. Where DICOM and TotalSegmentator disagree, DICOM wins:
#     * category "Anatomical Structure" is 91723000 (CID 7150); 123037004, which TotalSegmentator and Slicer write,
#       is SNOMED's "Body structure";
#     * 29700009 is the *right* subclavian artery (CID 12291), so both sides use 36765005 "Subclavian artery";
#     * the left atrial appendage is CID 7151's 33626005 "Left auricular appendage".
# - Not in DICOM's context groups, checked elsewhere: the twelve rib codes, S1 vertebra 65985001 and subclavian
#   artery 36765005 in HL7 mCODE's TG-263 radiotherapy location value set (HL7/fhir-mCODE-ig); gluteus maximus
#   206007 and medius 78333006 ("Structure of …" concepts, as FHIR implementation guides code injection sites;
#   TotalSegmentator's 181674001 for gluteus maximus is not used); fracture 72704001 (the associated morphology
#   in SNOMED's own fracture expressions); lung consolidation 95436008.
# - Taken from TotalSegmentator's mapping alone, with no second source found: gluteus minimus 75297007, iliopsoas
#   68455001, deep muscle of back 244849004 ("autochthon"), portal vein and splenic vein 110765007, intervertebral
#   disc 360499006, and "hip" as 29836001 Hip (TotalSegmentator's "hip" label is the hip bone).
# Laterality: the structure's own concept plus a Left/Right modifier (DICOM's Segmented Property Type Modifier,
# CID 244), as TotalSegmentator and DICOM's segmentation context groups code paired organs, except where DICOM only
# has a one-sided concept (left auricular appendage, middle lobe of right lung).

from __future__ import annotations

import re
from dataclasses import dataclass

from services.annotation.domain.segmentation import Code


@dataclass(frozen=True)
class Concept:
    """What a label class is, as DICOM-SEG codes it: category, type, and an optional type modifier (laterality).

    `region` (with its own `region_modifier`) says where a finding is, for findings tied to one organ (a left
    kidney's cyst is type Cyst in region Kidney, modifier Left): DICOM-SEG's Anatomic Region Sequence.
    """

    category: Code
    type: Code
    modifier: Code | None = None
    region: Code | None = None
    region_modifier: Code | None = None


ANATOMICAL_STRUCTURE = Code("91723000", "SCT", "Anatomical Structure")
MORPHOLOGICALLY_ABNORMAL_STRUCTURE = Code("49755003", "SCT", "Morphologically Abnormal Structure")
LEFT = Code("7771000", "SCT", "Left")
RIGHT = Code("24028007", "SCT", "Right")
_SIDES = {"left": LEFT, "right": RIGHT}

# Unpaired structures: name → (code value, meaning).
_SINGLE = {
    "spleen": ("78961009", "Spleen"),
    "gallbladder": ("28231008", "Gallbladder"),
    "liver": ("10200004", "Liver"),
    "stomach": ("69695003", "Stomach"),
    "pancreas": ("15776009", "Pancreas"),
    "lung_middle_lobe_right": ("72481006", "Middle lobe of right lung"),
    "esophagus": ("32849002", "Esophagus"),
    "trachea": ("44567001", "Trachea"),
    "thyroid_gland": ("69748006", "Thyroid"),
    "small_bowel": ("30315005", "Small intestine"),
    "duodenum": ("38848004", "Duodenum"),
    "colon": ("71854001", "Colon"),
    "urinary_bladder": ("89837001", "Bladder"),
    "prostate": ("41216001", "Prostate"),
    "sacrum": ("54735007", "Sacrum"),
    "vertebrae": ("51282000", "Vertebra"),
    "intervertebral_discs": ("360499006", "Intervertebral disc"),
    "heart": ("80891009", "Heart"),
    "aorta": ("15825003", "Aorta"),
    "pulmonary_vein": ("122972007", "Pulmonary vein"),
    "brachiocephalic_trunk": ("12691009", "Innominate artery"),
    "atrial_appendage_left": ("33626005", "Left auricular appendage"),
    "superior_vena_cava": ("48345005", "Superior vena cava"),
    "inferior_vena_cava": ("64131007", "Inferior vena cava"),
    "portal_vein_and_splenic_vein": ("110765007", "Portal vein and splenic vein"),
    "spinal_cord": ("2748008", "Spinal cord"),
    "brain": ("12738006", "Brain"),
    "skull": ("89546000", "Skull"),
    "sternum": ("56873002", "Sternum"),
    "costal_cartilages": ("50016007", "Costal Cartilage"),
}

# Paired structures: "{side}" in the name becomes left or right, each with its Laterality modifier; the name without
# the side ("kidney") is the structure with no modifier.
_PAIRED = {
    "kidney_{side}": ("64033007", "Kidney"),
    "adrenal_gland_{side}": ("23451007", "Adrenal gland"),
    "lung_{side}": ("39607008", "Lung"),
    "lung_upper_lobe_{side}": ("45653009", "Upper lobe of lung"),
    "lung_lower_lobe_{side}": ("90572001", "Lower lobe of lung"),
    "subclavian_artery_{side}": ("36765005", "Subclavian artery"),
    "common_carotid_artery_{side}": ("32062004", "Common carotid artery"),
    "brachiocephalic_vein_{side}": ("8887007", "Innominate vein"),
    "iliac_artery_{side}": ("73634005", "Common iliac artery"),
    "iliac_vena_{side}": ("46027005", "Common iliac vein"),
    "humerus_{side}": ("85050009", "Humerus"),
    "scapula_{side}": ("79601000", "Scapula"),
    "clavicula_{side}": ("51299004", "Clavicle"),
    "femur_{side}": ("71341001", "Femur"),
    "hip_{side}": ("29836001", "Hip"),
    "gluteus_maximus_{side}": ("206007", "Gluteus maximus muscle"),
    "gluteus_medius_{side}": ("78333006", "Gluteus medius muscle"),
    "gluteus_minimus_{side}": ("75297007", "Gluteus minimus muscle"),
    "autochthon_{side}": ("244849004", "Deep muscle of back"),
    "iliopsoas_{side}": ("68455001", "Iliopsoas muscle"),
}

_RIBS = ("48535007", "78247007", "25888004", "25523003", "15339008", "59558009",
         "24915002", "5953002", "22565002", "77644006", "58830002", "43993008")
_ORDINALS = ("First", "Second", "Third", "Fourth", "Fifth", "Sixth",
             "Seventh", "Eighth", "Ninth", "Tenth", "Eleventh", "Twelfth")
_VERTEBRAE = {
    "C1": "14806007", "C2": "39976000", "C3": "113205007", "C4": "5329002", "C5": "36978003", "C6": "36054005",
    "C7": "87391001", "T1": "64864005", "T2": "53733008", "T3": "1626008", "T4": "73071006", "T5": "56401006",
    "T6": "45296009", "T7": "62487009", "T8": "11068009", "T9": "82687006", "T10": "7610001", "T11": "12989004",
    "T12": "23215003", "L1": "66794005", "L2": "14293000", "L3": "36470004", "L4": "11994002", "L5": "49668003",
    "S1": "65985001",
}

# Findings (category Morphologically Abnormal Structure): name → (code value, meaning).
_FINDINGS = {
    "mass": ("4147007", "Mass"),
    "nodule": ("27925004", "Nodule"),
    "lesion": ("52988006", "Lesion"),
    "hemorrhage": ("50960005", "Hemorrhage"),
    "fracture": ("72704001", "Fracture"),
    "effusion": ("41699000", "Effusion"),
    "pneumothorax": ("36118008", "Pneumothorax"),
    "consolidation": ("95436008", "Lung consolidation"),
    "calcification": ("18115005", "Pathologic calcification"),
    "cyst": ("367643001", "Cyst"),
}


def _key(name: str) -> str:
    """A name as lookups compare it: lower case, words split at spaces, underscores and hyphens, in sorted order
    (so "Kidney left", "kidney_left" and "left kidney" are one name)."""
    return " ".join(sorted(re.split(r"[\s_\-]+", name.strip().lower())))


def _anatomy(value: str, meaning: str, modifier: Code | None = None) -> Concept:
    return Concept(ANATOMICAL_STRUCTURE, Code(value, "SCT", meaning), modifier)


def _build() -> dict[str, Concept]:
    built = {name: _anatomy(value, meaning) for name, (value, meaning) in _SINGLE.items()}
    for pattern, (value, meaning) in _PAIRED.items():
        built[pattern.replace("_{side}", "")] = _anatomy(value, meaning)
        for side, laterality in _SIDES.items():
            built[pattern.format(side=side)] = _anatomy(value, meaning, laterality)
    for number, (value, ordinal) in enumerate(zip(_RIBS, _ORDINALS), start=1):
        for side, laterality in _SIDES.items():
            built[f"rib_{side}_{number}"] = _anatomy(value, f"{ordinal} rib", laterality)
    for level, value in _VERTEBRAE.items():
        built[f"vertebrae_{level}"] = _anatomy(value, f"{level} vertebra")
    for name, (value, meaning) in _FINDINGS.items():
        built[name] = Concept(MORPHOLOGICALLY_ABNORMAL_STRUCTURE, Code(value, "SCT", meaning))
    kidney, cyst = built["kidney"].type, built["cyst"].type
    for side, laterality in _SIDES.items():
        built[f"kidney_cyst_{side}"] = Concept(MORPHOLOGICALLY_ABNORMAL_STRUCTURE, cyst, None, kidney, laterality)
    return built


_CONCEPTS = _build()
_BY_KEY = {_key(name): concept for name, concept in _CONCEPTS.items()}


def lookup(name: str) -> Concept | None:
    """The built-in concept for a label class name ("liver", "kidney_left", "Kidney left"), or None if there is none."""
    return _BY_KEY.get(_key(name))


def all_concepts() -> dict[str, Concept]:
    """Every built-in concept by its canonical name (TotalSegmentator's spelling for organs, e.g. "kidney_left")."""
    return dict(_CONCEPTS)
