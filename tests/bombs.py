"""Small files that declare gigabytes: a gzip of zeros made in a second, a NIfTI of 1024³, CT slices and an Enhanced CT of JPEG-LS frames."""

from __future__ import annotations

import io
import math
import struct
import zlib

import nibabel as nib
import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.encaps import encapsulate
from pydicom.pixels import get_encoder
from pydicom.uid import JPEGLSLossless, generate_uid


def gzip_of_zeros(prefix: bytes, zeros: int, block: int = 1 << 24) -> bytes:
    """A gzip stream of `prefix` then `zeros` zero bytes (a multiple of `block`), made in about a second however many:
    after a full flush every block of zeros compresses to the same bytes, so one is compressed and repeated."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    head = compressor.compress(prefix) + compressor.flush(zlib.Z_FULL_FLUSH)
    zero_block = bytes(block)
    body = compressor.compress(zero_block) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(prefix)
    for _ in range(zeros // block):
        crc = zlib.crc32(zero_block, crc)
    final_empty_block = b"\x03\x00"
    return head + body * (zeros // block) + final_empty_block + struct.pack("<II", crc, (len(prefix) + zeros) & 0xFFFFFFFF)


def nifti_bomb(shape: tuple[int, int, int] = (1024, 1024, 1024)) -> bytes:
    """A ~1 MB .nii.gz whose header declares `shape` of uint8 and whose stream really inflates to every voxel (all zero)."""
    header = nib.Nifti1Header()
    header.set_data_shape(shape)
    header.set_data_dtype(np.uint8)
    header["vox_offset"] = 352
    return gzip_of_zeros(header.binaryblock + bytes(4), math.prod(shape))


def jpeg_ls_zeros(size: int, bits: int) -> bytes:
    """One JPEG-LS frame of size² zeros: a few hundred bytes that decode to size² × bits / 8."""
    return bytes(get_encoder(JPEGLSLossless).encode(
        np.zeros((size, size), np.uint8 if bits == 8 else np.uint16), rows=size, columns=size, samples_per_pixel=1,
        bits_allocated=bits, bits_stored=bits, pixel_representation=0, photometric_interpretation="MONOCHROME2",
        number_of_frames=1,
    ))


def _part10(dataset: pydicom.Dataset, size: int, bits: int, frames: list[bytes]) -> bytes:
    """`dataset` declaring frames of size² at `bits`, its pixel data the JPEG-LS `frames`, as Part 10 bytes."""
    dataset.Rows = dataset.Columns = size
    dataset.BitsAllocated = dataset.BitsStored = bits
    dataset.HighBit = bits - 1
    dataset.PixelRepresentation, dataset.SamplesPerPixel, dataset.PhotometricInterpretation = 0, 1, "MONOCHROME2"
    dataset.PixelData = encapsulate(frames)
    dataset["PixelData"].VR = "OB"
    dataset.file_meta.TransferSyntaxUID = JPEGLSLossless
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def ct_slices(size: int = 8192, count: int = 16) -> list[bytes]:
    """`count` axial CT slices (pydicom's CT_small) of size² 8-bit pixels, 2^30 voxels by default, ~1 KB each."""
    frame = jpeg_ls_zeros(size, 8)
    series = generate_uid()
    slices = []
    for number in range(count):
        dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
        dataset.SeriesInstanceUID, dataset.SOPInstanceUID, dataset.InstanceNumber = series, generate_uid(), number + 1
        dataset.ImagePositionPatient = [0.0, 0.0, float(number)]
        slices.append(_part10(dataset, size, 8, [frame]))
    return slices


def enhanced_ct(size: int = 2048, frames: int = 320) -> bytes:
    """pydicom's Enhanced CT (two frames of plane geometry) declaring `frames` frames of size² 16-bit pixels: its series
    is two slices, but decoding its pixel data takes frames × size² × 2 bytes (2.5 GiB by default), from ~100 KB."""
    dataset = pydicom.dcmread(get_testdata_file("eCT_Supplemental.dcm"))
    dataset.NumberOfFrames = frames
    return _part10(dataset, size, 16, [jpeg_ls_zeros(size, 16)] * frames)
