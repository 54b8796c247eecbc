"""What makes a label class valid: its name, value, colour, type, coded concept and attributes."""

from __future__ import annotations

import math
import re

from radlab.annotation.v1 import annotation_service_pb2 as pb
from radlab.quoting import shown
from services.annotation.domain import concepts
from services.annotation.domain.segmentation import Code
from shared.errors import InvalidArgument

MAX_VALUE = 65535
MAX_NAME = 200
MAX_ATTRIBUTES = 50
MAX_CHOICES = 200
COLOR = re.compile(r"#[0-9a-fA-F]{6}")
# Distinct colours for classes created without one (Tableau 20), taken by value in turn.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
           "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5")
# What a class with no code of its own and no built-in concept is coded as (DICOM-SEG requires a code).
TISSUE = (Code("85756007", "SCT", "Tissue"), Code("85756007", "SCT", "Tissue"))
ATTRIBUTE_KINDS = {pb.CLASS_ATTRIBUTE_KIND_TEXT: "text", pb.CLASS_ATTRIBUTE_KIND_CHOICE: "choice",
                   pb.CLASS_ATTRIBUTE_KIND_NUMBER: "number"}
# Which shape geometries each class type takes (None: a tag, no geometry); brush masks and 3D segmentations are
# painted (SaveKeySlices), not shapes.
GEOMETRIES = {
    pb.LABEL_CLASS_TYPE_BOUNDING_BOX: {"box"},
    pb.LABEL_CLASS_TYPE_POLYGON: {"polygon"},
    pb.LABEL_CLASS_TYPE_POLYLINE: {"polyline"},
    pb.LABEL_CLASS_TYPE_KEYPOINT: {"keypoint"},
    pb.LABEL_CLASS_TYPE_ELLIPSE: {"ellipse"},
    pb.LABEL_CLASS_TYPE_TAG: {None},
    pb.LABEL_CLASS_TYPE_MEASUREMENT: {"polyline", "angle", "box", "ellipse", "polygon", "keypoint"},
}


def clean_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned:
        raise InvalidArgument("a label class needs a name, e.g. \"liver\"")
    if len(cleaned) > MAX_NAME or not cleaned.isprintable():
        raise InvalidArgument(f"label class name {shown(cleaned)} must be printable text of at most {MAX_NAME} characters")
    return cleaned


def check_value(value: int, taken: set[int]) -> int:
    """The class's voxel value: the one asked for (1 to 65535, not taken), or the lowest free one for 0."""
    if value == 0:
        free = next((v for v in range(1, MAX_VALUE + 1) if v not in taken), None)
        if free is None:
            raise InvalidArgument(f"every value 1 to {MAX_VALUE} is taken in this dataset")
        return free
    if not 1 <= value <= MAX_VALUE:
        raise InvalidArgument(f"label class value {value} is outside 1 to {MAX_VALUE} (0 is background)")
    if value in taken:
        raise InvalidArgument(f"value {value} is taken by another class of this dataset; choose another or pass 0")
    return value


def color_for(color: str, value: int) -> str:
    if not color:
        return PALETTE[(value - 1) % len(PALETTE)]
    if not COLOR.fullmatch(color):
        raise InvalidArgument(f"colour {shown(color)} is not #rrggbb, e.g. #ff0000")
    return color.lower()


def codes_for(name: str, category: Code | None, concept: Code | None) -> tuple[Code, Code]:
    """The class's (category, type) codes: as given (both or neither), else the built-in concept of its name, else Tissue."""
    if (category is None) != (concept is None):
        raise InvalidArgument("give both a category and a concept code, or neither (then the built-in list is used)")
    if category is not None and concept is not None:
        for code in (category, concept):
            if not (code.value and code.scheme and code.meaning):
                raise InvalidArgument("a code needs a value, a coding scheme (e.g. SCT) and a meaning")
        return category, concept
    known = concepts.lookup(name)
    return (known.category, known.type) if known else TISSUE


def clean_attributes(attributes: list[tuple[str, int, list[str]]]) -> list[dict]:
    """Class attributes as stored: [{"name", "kind", "choices"}]; names unique, choices only (and always) for choice."""
    if len(attributes) > MAX_ATTRIBUTES:
        raise InvalidArgument(f"a class has at most {MAX_ATTRIBUTES} attributes")
    seen: set[str] = set()
    cleaned = []
    for name, kind, choices in attributes:
        name = name.strip()
        if not name or name in seen:
            raise InvalidArgument(f"attribute names must be given and unique; {shown(name)} is not")
        if kind not in ATTRIBUTE_KINDS:
            raise InvalidArgument(f"attribute {shown(name)} needs a kind: text, choice or number")
        if (ATTRIBUTE_KINDS[kind] == "choice") != bool(choices) or len(choices) > MAX_CHOICES:
            raise InvalidArgument(f"attribute {shown(name)}: a choice attribute lists 1 to {MAX_CHOICES} choices; others none")
        seen.add(name)
        cleaned.append({"name": name, "kind": kind, "choices": list(choices)})
    return cleaned


def check_geometry(class_type: int, kind: str | None, name: str, where: str) -> None:
    """Refuse a shape whose geometry (`kind`; None for a tag) its class's type does not take."""
    allowed = GEOMETRIES.get(class_type)
    if allowed is None:
        raise InvalidArgument(f"{where}: class {shown(name)} is painted as a mask; save it with SaveKeySlices")
    if kind not in allowed:
        wanted = " or ".join(sorted(k or "no geometry (a tag)" for k in allowed))
        raise InvalidArgument(f"{where}: class {shown(name)} takes {wanted}, not {kind or 'a tag'}")


def check_attribute_values(values: dict[str, str], declared: list[dict], name: str, where: str) -> None:
    """Refuse attribute values the class does not declare, a choice outside its choices, a number that is none."""
    by_name = {attribute["name"]: attribute for attribute in declared}
    for attribute_name, value in values.items():
        attribute = by_name.get(attribute_name)
        if attribute is None:
            raise InvalidArgument(f"{where}: class {shown(name)} has no attribute {shown(attribute_name)}")
        if ATTRIBUTE_KINDS[attribute["kind"]] == "choice" and value not in attribute["choices"]:
            raise InvalidArgument(f"{where}: attribute {shown(attribute_name)} is one of "
                                  f"{', '.join(attribute['choices'])}, not {shown(value)}")
        if ATTRIBUTE_KINDS[attribute["kind"]] == "number":
            try:
                if not math.isfinite(float(value)):
                    raise ValueError(value)
            except ValueError:
                raise InvalidArgument(f"{where}: attribute {shown(attribute_name)} is a number, not {shown(value)}") from None
