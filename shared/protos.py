"""Small conversions between Python values and protobuf types: well-known ones and the shared radlab.type.v1 ones."""

from __future__ import annotations

import numpy as np
from google.protobuf.timestamp_pb2 import Timestamp

from radlab.type.v1 import geometry_pb2

_DATA_TYPES = {
    np.dtype(name): getattr(geometry_pb2, f"DATA_TYPE_{name.upper()}")
    for name in ("uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64")
}


def timestamp(seconds: float) -> Timestamp:
    """A Timestamp for a POSIX time in seconds."""
    stamp = Timestamp()
    stamp.FromNanoseconds(int(seconds * 1e9))
    return stamp


def data_type(dtype: np.dtype) -> int:
    """The DataType of a numpy voxel type (DATA_TYPE_UNSPECIFIED for one the contract does not name)."""
    return _DATA_TYPES.get(np.dtype(dtype), geometry_pb2.DATA_TYPE_UNSPECIFIED)


def numpy_dtype(data_type: int) -> np.dtype:
    """The numpy voxel type of a DataType (the inverse of `data_type`); ValueError for one the contract leaves unnamed."""
    for dtype, named in _DATA_TYPES.items():
        if named == data_type:
            return dtype
    raise ValueError(f"data type {data_type} names no voxel type")
