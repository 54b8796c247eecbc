"""Precise values beside display values: Philips' private scale slope or a Real World Value Mapping, recorded per volume.

Voxels keep the display values (stored value × Rescale Slope + Rescale Intercept), as dcm2niix does by default and
as viewers show them. Some series say how to get a physical quantity instead: Philips MR writes a private scale slope
(2005,xx0E of "Philips MR Imaging DD 001"), the precise ("floating point") value being display / (Rescale Slope ×
scale slope); any vendor may carry a Real World Value Mapping (slope and intercept on the stored values, with units).
Either is turned into one linear map on the voxels, `precise = voxel × slope + intercept`, and recorded with what it
came from, so a user gets the precise values without re-reading the DICOM.
"""

from __future__ import annotations

from pydicom.multival import MultiValue

from services.ingestion.domain.frames import Frame
from services.ingestion.domain.private import private_value

PHILIPS_CREATOR = "Philips MR Imaging DD 001"
PHILIPS_SCALE_SLOPE = 0x0E


def precise_values(frames: list[Frame]) -> dict | None:
    """The map from the volume's voxels to precise values and its source; None when the series gives none. A map
    that differs between slices cannot be one per volume: then it is reported, not recorded as a map."""
    maps = {_map(frame) for frame in frames}
    if maps == {None}:
        return None
    if len(maps) > 1:
        return {"source": "differs between slices", "slope": None, "intercept": None, "units": "",
                "note": "the series' precise-value mapping changes from slice to slice; read it from the DICOM per slice"}
    source, slope, intercept, units = maps.pop()
    return {"source": source, "slope": slope, "intercept": intercept, "units": units}


def describe(precise: dict) -> str:
    """One line for a report: how to get precise values from the voxels."""
    if precise["slope"] is None:
        return f"precise values: {precise['note']}"
    units = f" {precise['units']}" if precise["units"] else ""
    return f"precise values{units} = voxel × {precise['slope']:.6g} + {precise['intercept']:.6g} ({precise['source']})"


def _map(frame: Frame) -> tuple[str, float, float, str] | None:
    """(source, slope, intercept, units) turning one frame's display values into precise ones, or None."""
    dataset = frame.dataset
    mapping = dataset.get("RealWorldValueMappingSequence")
    if mapping:
        item = mapping[0]
        slope, intercept = item.get("RealWorldValueSlope"), item.get("RealWorldValueIntercept")
        if slope is not None and intercept is not None:
            codes = item.get("MeasurementUnitsCodeSequence") or []
            units = str(codes[0].get("CodeValue", "")) if codes else ""
            # precise = stored × m + c, and stored = (display − intercept) / slope
            factor = float(slope) / frame.slope
            return "Real World Value Mapping", factor, float(intercept) - frame.intercept * factor, units
    scale = private_value(dataset, 0x2005, PHILIPS_CREATOR, PHILIPS_SCALE_SLOPE)
    if scale is not None:
        value = float(scale[0] if isinstance(scale, (list, tuple, MultiValue)) else scale)
        if value:
            return "Philips private scale slope (2005,xx0E)", 1.0 / (frame.slope * value), 0.0, ""
    return None
