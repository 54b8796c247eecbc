"""Upload kinds told from real files' bytes, and archives refused (traversal, absolute paths, links, bombs) before any member
is read, or when a member's data turns out damaged as it is read."""

from __future__ import annotations

import gzip
import io
import stat
import tarfile
import tracemalloc
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from services.ingestion.domain.archive import HEAD_BYTES, TAR_METADATA_MAX_BYTES, Archive, ArchiveRefused, Limits, kind_of, suffix_of
from tests.bombs import gzip_of_zeros

MR = "dcm_qa_deident/In"
NIFTI = "totalsegmentator/tests/reference_files/example_ct_sm.nii.gz"


@pytest.fixture(scope="module")
def dicom_bytes(data_dir) -> bytes:
    return (data_dir / MR / "00001.dcm").read_bytes()


def zip_of(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    buffer.seek(0)
    return buffer


def tar_of(members: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w") -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                archive.addfile(member)
            else:
                name, data = member
                info = tarfile.TarInfo(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def opened(buffer: io.BytesIO, kind: str, limits: Limits = Limits()) -> Archive:
    return Archive(buffer, kind, len(buffer.getvalue()), limits)


def test_kinds_are_told_from_real_bytes(data_dir, dicom_bytes):
    """DICOM with and without its preamble, NIfTI gzipped and plain, zip, tar, tar.gz; text and truncated bytes are none of them."""
    nifti_gz = (data_dir / NIFTI).read_bytes()
    assert kind_of(dicom_bytes[:HEAD_BYTES]) == "dicom"
    assert kind_of(dicom_bytes[132:132 + HEAD_BYTES]) == "dicom"  # Part 10 without the 128-byte preamble and DICM
    assert kind_of(nifti_gz[:HEAD_BYTES]) == "nifti"
    assert kind_of(gzip.decompress(nifti_gz)[:HEAD_BYTES]) == "nifti"
    assert kind_of(zip_of({"a.dcm": dicom_bytes}).read(HEAD_BYTES)) == "zip"
    assert kind_of(tar_of([("a.dcm", dicom_bytes)]).read(HEAD_BYTES)) == "tar"
    assert kind_of(tar_of([("a.dcm", dicom_bytes)], "w:gz").read(HEAD_BYTES)) == "tar"
    assert kind_of(b"patient list\nDOE^JOHN 1957\n" * 40) is None
    assert kind_of(b"\x1f\x8b\x08\x00garbage") is None
    assert kind_of(b"") is None


def test_a_dicomdir_is_told_apart_from_an_image(tmp_path):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.1.3.10"
    meta.MediaStorageSOPInstanceUID = "1.2.3.4"
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    directory = FileDataset(str(tmp_path / "DICOMDIR"), {}, file_meta=meta, preamble=b"\0" * 128)
    directory.FileSetID = "STUDY"
    directory.save_as(tmp_path / "DICOMDIR", enforce_file_format=True)
    assert kind_of((tmp_path / "DICOMDIR").read_bytes()[:HEAD_BYTES]) == "dicomdir"
    assert pydicom.dcmread(tmp_path / "DICOMDIR").file_meta.MediaStorageSOPClassUID == "1.2.840.10008.1.3.10"


def test_only_a_names_extension_is_kept():
    assert suffix_of("DOE^JOHN 1957/scan.nii.gz") == ".nii.gz"
    assert suffix_of("Smith, Anna.DCM") == ".dcm"
    assert suffix_of("study.tar.gz") == ".tar.gz"
    assert suffix_of("IM.1.2.840.113619.2") == ""  # a UID fragment is no extension
    assert suffix_of("IM0001") == ""


def test_zip_and_tar_members_are_listed_with_position_and_extension_only(dicom_bytes):
    for archive in (
        opened(zip_of({"DOE JOHN/a.dcm": dicom_bytes, "DOE JOHN/": b"", "notes.txt": b"x"}), "zip"),
        opened(tar_of([("DOE JOHN/a.dcm", dicom_bytes), ("notes.txt", b"x")], "w:gz"), "tar"),
    ):
        wheres = [member.where for member in archive.members]
        assert wheres[0] == "member 1 (.dcm)" and wheres[-1].endswith("(.txt)")
        assert all("DOE" not in where for where in wheres)
        with archive.open(archive.members[0]) as stream:
            assert stream.read() == dicom_bytes
        archive.close()


@pytest.mark.parametrize("name", ["../../etc/cron.d/x.dcm", "study/../../x.dcm", "..\\..\\x.dcm"])
def test_path_traversal_is_refused_whole(dicom_bytes, name):
    """A climbing member refuses the archive even after good members: nothing of it is listed to extract."""
    with pytest.raises(ArchiveRefused, match=r"member 2 .*climbs out"):
        opened(zip_of({"good.dcm": dicom_bytes, name: dicom_bytes}), "zip")
    with pytest.raises(ArchiveRefused, match=r"member 2 .*climbs out"):
        opened(tar_of([("good.dcm", dicom_bytes), (name, dicom_bytes)]), "tar")


@pytest.mark.parametrize("name", ["/etc/x.dcm", "C:\\Users\\x.dcm", "\\\\server\\share\\x.dcm"])
def test_absolute_paths_are_refused(dicom_bytes, name):
    with pytest.raises(ArchiveRefused, match="absolute path"):
        opened(zip_of({name: dicom_bytes}), "zip")
    with pytest.raises(ArchiveRefused, match="absolute path"):
        opened(tar_of([(name, dicom_bytes)]), "tar")


def test_links_and_special_files_are_refused(dicom_bytes):
    for kind, target in ((tarfile.SYMTYPE, "/etc/passwd"), (tarfile.LNKTYPE, "good.dcm")):
        link = tarfile.TarInfo("x.dcm")
        link.type, link.linkname = kind, target
        with pytest.raises(ArchiveRefused, match="is a link"):
            opened(tar_of([("good.dcm", dicom_bytes), link]), "tar")
    device = tarfile.TarInfo("dev")
    device.type = tarfile.CHRTYPE
    with pytest.raises(ArchiveRefused, match="not a regular file"):
        opened(tar_of([device]), "tar")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("x.dcm")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, "/etc/passwd")
    buffer.seek(0)
    with pytest.raises(ArchiveRefused, match="symbolic link"):
        opened(buffer, "zip")


def test_zip_bomb_is_refused_from_its_directory():
    """20 MB of zeros deflate to ~20 kB (about 1000×): refused by ratio without inflating a byte."""
    bomb = zip_of({"a.dcm": b"\0" * (20 << 20)})
    assert len(bomb.getvalue()) < 100_000
    with pytest.raises(ArchiveRefused, match="decompression bomb"):
        opened(bomb, "zip")


def test_tar_gz_bomb_is_refused_at_its_first_header():
    bomb = tar_of([("a.dcm", b"\0" * (20 << 20)), ("b.dcm", b"\0" * (20 << 20))], "w:gz")
    with pytest.raises(ArchiveRefused, match="decompression bomb"):
        opened(bomb, "tar")


def test_total_size_and_member_count_limits_come_from_config(dicom_bytes):
    archive = zip_of({f"{n}.dcm": dicom_bytes for n in range(3)}, zipfile.ZIP_STORED)
    with pytest.raises(ArchiveRefused, match="more than 2 files"):
        opened(archive, "zip", Limits(max_members=2))
    archive.seek(0)
    with pytest.raises(ArchiveRefused, match=f"more than {2 * len(dicom_bytes)} bytes"):
        opened(archive, "zip", Limits(max_total_bytes=2 * len(dicom_bytes)))
    archive.seek(0)
    assert len(opened(archive, "zip").members) == 3


def test_damaged_archives_are_refused_with_a_reason(dicom_bytes):
    whole = zip_of({"a.dcm": dicom_bytes}).getvalue()
    with pytest.raises(ArchiveRefused, match="zip file is damaged"):
        opened(io.BytesIO(whole[: len(whole) // 2]), "zip")
    with pytest.raises(ArchiveRefused, match="tar file is damaged"):
        opened(io.BytesIO(b"\x1f\x8b" + b"\0" * 600), "tar")


def test_a_member_damaged_inside_refuses_the_archive_when_read_naming_it_by_position(dicom_bytes):
    """A sound directory with a member whose data fails its CRC, or whose compression method zipfile cannot read: the
    archive opens, and reading that member through raises ArchiveRefused naming it by position only."""
    whole = zip_of({"DOE^JOHN/a.dcm": dicom_bytes, "DOE^JOHN/b.dcm": dicom_bytes}, zipfile.ZIP_STORED).getvalue()
    second = whole.rindex(dicom_bytes[:200])  # the second member's data
    flipped = whole[:second + 4000] + bytes([whole[second + 4000] ^ 0xFF]) + whole[second + 4001:]
    archive = opened(io.BytesIO(flipped), "zip")
    with archive.open(archive.members[0]) as good:
        assert good.read() == dicom_bytes
    with archive.open(archive.members[1]) as bad:
        assert bad.read(HEAD_BYTES) == dicom_bytes[:HEAD_BYTES]  # the damage is further in: its kind is told as usual
        bad.seek(0)
        with pytest.raises(ArchiveRefused) as refused:
            bad.read()
    assert str(refused.value) == (
        "member 2 (.dcm) is damaged (its data fails its checksum or does not unpack); create the archive again and upload it"
    )
    deflate64 = 9  # a method zipfile does not read, in the local and the central header
    unreadable = bytearray(whole)
    for signature, at in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        position = unreadable.index(signature)
        unreadable[position + at:position + at + 2] = deflate64.to_bytes(2, "little")
    archive = opened(io.BytesIO(bytes(unreadable)), "zip")
    with pytest.raises(ArchiveRefused, match="^member 1 .* is compressed with a method that cannot be read"):
        archive.open(archive.members[0])


def test_a_tar_metadata_header_too_large_to_be_one_is_refused_before_tarfile_reads_it():
    """A 1 MB tar.gz whose first header is a pax header declaring 1 GiB: tarfile would read it whole into memory before
    the members' sizes are ever counted; it is refused from the 512-byte header, having inflated almost nothing."""
    pax = tarfile.TarInfo("././@PaxHeader")
    pax.type, pax.size = tarfile.XHDTYPE, 1 << 30
    bomb = gzip_of_zeros(pax.tobuf(tarfile.USTAR_FORMAT), 1 << 30)
    assert len(bomb) < 2 << 20 and pax.size > TAR_METADATA_MAX_BYTES
    tracemalloc.start()
    try:
        with pytest.raises(ArchiveRefused, match="metadata header of 1073741824 bytes"):
            opened(io.BytesIO(bomb), "tar")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20
    long_name = tarfile.TarInfo("study/" + "a" * 300 + ".dcm")  # a GNU long name header, as a real one is: small
    long_name.size = 4
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.GNU_FORMAT) as archive:
        archive.addfile(long_name, io.BytesIO(b"data"))
    buffer.seek(0)
    assert [member.suffix for member in opened(buffer, "tar").members] == [".dcm"]


DICOM_FOLDERS = (
    "dcm_qa_ct/In/GE", MR, "totalsegmentator/tests/reference_files/example_ct_dicom", "dcmqi/data/segmentations",
    "rt_utils/tests/mock_data",
)


def test_every_real_file_in_the_data_folder_has_a_kind(data_dir):
    """Every DICOM file (named .dcm or not) and every .nii.gz of data/ is recognised by content."""
    dicom = [path for folder in DICOM_FOLDERS for path in (data_dir / folder).rglob("*") if path.is_file()]
    nifti = list(Path(data_dir).rglob("*.nii.gz"))
    assert len(dicom) == 28 + 196 + 20 + 5 + 5 and len(nifti) >= 5
    assert {kind_of(path.read_bytes()[:HEAD_BYTES]) for path in dicom} == {"dicom"}
    assert {kind_of(path.read_bytes()[:HEAD_BYTES]) for path in nifti} == {"nifti"}


def test_nifti_1_and_2_headers_in_either_byte_order_and_of_pairs_are_nifti(data_dir):
    """NIfTI-2 and big-endian files made from a real image, and .hdr/.img pair headers of both versions, are
    'nifti' (anonymization then refuses a pair with its reason), as shared.nifti tells them for both services."""
    image = nib.load(data_dir / NIFTI)
    data = np.asanyarray(image.dataobj)[:8, :8, :4]
    for image_class in (nib.Nifti1Image, nib.Nifti2Image):
        made = image_class(data, image.affine)
        single = made.to_bytes()
        assert kind_of(single[:HEAD_BYTES]) == "nifti" and kind_of(gzip.compress(single)[:HEAD_BYTES]) == "nifti"
        big_endian = image_class(data, image.affine, made.header.as_byteswapped(">")).to_bytes()
        assert big_endian[:4] == len(made.header.binaryblock).to_bytes(4, "big")
        assert kind_of(big_endian[:HEAD_BYTES]) == "nifti"
        pair = bytearray(single)
        magic_at = 344 if image_class is nib.Nifti1Image else 4
        pair[magic_at:magic_at + 4] = b"ni1\0" if image_class is nib.Nifti1Image else b"ni2\0"
        assert kind_of(bytes(pair[:HEAD_BYTES])) == "nifti"
        pair[magic_at:magic_at + 4] = b"xx1\0"
        assert kind_of(bytes(pair[:HEAD_BYTES])) is None
