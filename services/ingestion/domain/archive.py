"""What an upload holds: its kind told from its bytes, and the checks an archive passes before any member is read.

Archives are refused whole for path traversal, absolute paths, links or special files, and for
decompression bombs (declared sizes over a total or a compression ratio), all decided from the
archive's directory (zip) or headers (tar) before one member's content is read; tar's own metadata
headers (pax, GNU long names) are bounded before tarfile reads them. A member whose data turns out
damaged while it is read (bad CRC, bad deflate data, cut short) refuses the archive. Member names may
hold PHI, so a member is described by its position and its extension only.
"""

from __future__ import annotations

import lzma
import re
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO

from shared.config import DEFAULT_UPLOAD_MAX_BYTES, DEFAULT_UPLOAD_MAX_FILES, DEFAULT_UPLOAD_MAX_RATIO, DEFAULT_VOLUME_MAX_VOXELS
from shared.errors import InvalidArgument
from shared.nifti import header_format

# How many leading bytes `kind_of` needs to tell every kind apart (tar's magic sits at 257).
HEAD_BYTES = 1024
DICOMDIR_SOP_CLASS = b"1.2.840.10008.1.3.10"
_DICOM_GROUPS = (b"\x02\x00", b"\x08\x00")  # a Part 10 file without preamble starts with group 0002 or 0008
_SUFFIX = re.compile(r"\.[a-z][a-z0-9]{0,7}")
# tar's metadata headers (pax attributes, GNU long names and links) hold a few names and numbers; tarfile reads each
# whole into memory before it says what it is, so a larger one (gigabytes from a small tar.gz) is refused first.
TAR_METADATA_MAX_BYTES = 1 << 20
_METADATA_TYPES = frozenset({tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE, tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK})
# What reading a damaged member raises: a bad CRC or local header (zip), compressed data that does not inflate
# (zlib, gzip's OSError, bzip2's OSError, lzma), data cut short. Reads come from the local spool, never the object
# store, so an OSError here is the archive's.
_DAMAGE = (zipfile.BadZipFile, tarfile.TarError, zlib.error, lzma.LZMAError, EOFError, OSError)


class ArchiveRefused(InvalidArgument):
    """The upload cannot be unpacked safely; the message says why and what to do."""


@dataclass(frozen=True)
class Limits:
    """Bounds an upload must stay within, checked before the work they bound starts: an archive's sizes before
    anything is extracted, a volume's voxels before anything is decoded (the defaults are the settings' defaults)."""

    max_total_bytes: int = DEFAULT_UPLOAD_MAX_BYTES  # every member together, uncompressed; also the largest upload
    max_ratio: float = DEFAULT_UPLOAD_MAX_RATIO  # uncompressed bytes per compressed byte, for the whole archive
    max_members: int = DEFAULT_UPLOAD_MAX_FILES
    max_voxels: int = DEFAULT_VOLUME_MAX_VOXELS  # per volume built (shared.volumes.check_budget)


@dataclass(frozen=True)
class Member:
    """One regular file of an archive: its 1-based position, declared size and extension (never its name)."""

    number: int
    size: int
    suffix: str
    name: str  # only to open it; never stored, logged or reported

    @property
    def where(self) -> str:
        return f"member {self.number}{f' ({self.suffix})' if self.suffix else ''}"


def kind_of(head: bytes) -> str | None:
    """'dicom', 'dicomdir', 'nifti', 'zip' or 'tar' from a file's first HEAD_BYTES bytes; None for anything else."""
    if head.startswith(b"\x1f\x8b"):
        try:
            inner = zlib.decompressobj(wbits=31).decompress(head, HEAD_BYTES)
        except zlib.error:
            return None
        return "tar" if _is_tar(inner) else ("nifti" if header_format(inner) else None)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if header_format(head):
        return "nifti"
    if _is_tar(head):
        return "tar"
    if head[128:132] == b"DICM" or (head[:2] in _DICOM_GROUPS and len(head) >= 8):
        return "dicomdir" if _names_dicomdir(head) else "dicom"
    return None


def _is_tar(head: bytes) -> bool:
    return head[257:262] == b"ustar"


def _names_dicomdir(head: bytes) -> bool:
    at = head.find(DICOMDIR_SOP_CLASS)
    end = at + len(DICOMDIR_SOP_CLASS)
    return at >= 0 and head[end:end + 1] not in b"0123456789."


def suffix_of(name: str) -> str:
    """The extension of a file name ('.nii.gz', '.dcm'; '' when none), lower-cased: all that may be kept of a name.

    Only extensions that start with a letter count: a trailing number ('IM.1.2.840…') is a UID fragment, not a kind.
    """
    suffixes = [part.lower() for part in PurePosixPath(name.replace("\\", "/")).suffixes][-2:]
    kept = [part for part in suffixes if _SUFFIX.fullmatch(part)]
    if len(kept) == 2 and kept[1] != ".gz":
        kept = kept[1:]
    return "".join(kept) if kept and kept[-1] == suffixes[-1] else ""


class Archive:
    """A checked zip or tar: `members` lists its regular files (checked before any is read); `open` reads one."""

    def __init__(self, file: BinaryIO, kind: str, compressed_size: int, limits: Limits = Limits()):
        self.kind = kind
        if kind == "zip":
            try:
                self._zip = zipfile.ZipFile(file)
            except (zipfile.BadZipFile, OSError, EOFError) as error:
                raise ArchiveRefused(f"the zip file is damaged ({error}); create it again and upload it") from None
            self.members = _zip_members(self._zip, compressed_size, limits)
        elif kind == "tar":
            try:
                self._tar = tarfile.open(fileobj=file, mode="r:*", tarinfo=_BoundedTarInfo)
            except (tarfile.TarError, OSError, EOFError, zlib.error) as error:
                raise ArchiveRefused(f"the tar file is damaged ({error}); create it again and upload it") from None
            self.members, self._infos = _tar_members(self._tar, compressed_size, limits)
        else:
            raise ValueError(f"not an archive kind: {kind!r}")

    def open(self, member: Member) -> BinaryIO:
        """The member's bytes as a stream; reading stops at its declared size, and damaged data raises ArchiveRefused."""
        with _refused_if_damaged(member):
            stream = self._zip.open(member.name) if self.kind == "zip" else self._tar.extractfile(self._infos[member.number])
        return _MemberStream(stream, member)

    def close(self) -> None:
        (self._zip if self.kind == "zip" else self._tar).close()


class _MemberStream:
    """A member's stream whose reads and seeks refuse the archive (ArchiveRefused) when its data is damaged."""

    def __init__(self, stream: BinaryIO, member: Member):
        self._stream, self._member = stream, member

    def read(self, size: int = -1) -> bytes:
        with _refused_if_damaged(self._member):
            return self._stream.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        with _refused_if_damaged(self._member):  # a zip member seeks back by inflating again from its start
            return self._stream.seek(offset, whence)

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> _MemberStream:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()


@contextmanager
def _refused_if_damaged(member: Member) -> Iterator[None]:
    try:
        yield
    except NotImplementedError:  # zipfile's answer to a compression method it does not read (deflate64, PPMd, …)
        raise ArchiveRefused(
            f"{member.where} is compressed with a method that cannot be read; pack it with deflate (zip's default) or as a tar"
        ) from None
    except _DAMAGE:
        raise ArchiveRefused(
            f"{member.where} is damaged (its data fails its checksum or does not unpack); create the archive again and upload it"
        ) from None


class _BoundedTarInfo(tarfile.TarInfo):
    """tarfile's header, refusing a metadata header (pax, GNU long name) too large to be one before tarfile reads it whole."""

    @classmethod
    def frombuf(cls, buf: bytes, encoding: str, errors: str) -> tarfile.TarInfo:
        info = super().frombuf(buf, encoding, errors)
        if info.type in _METADATA_TYPES and info.size > TAR_METADATA_MAX_BYTES:
            raise ArchiveRefused(
                f"the tar file has a metadata header of {info.size} bytes (at most {TAR_METADATA_MAX_BYTES} hold names and "
                "attributes): refused as a likely decompression bomb; create the archive again with a standard tar"
            )
        return info


def _check_name(name: str, number: int) -> None:
    path = name.replace("\\", "/")
    if path.startswith("/") or (len(path) > 1 and path[1] == ":" and path[0].isalpha()):
        raise ArchiveRefused(
            f"member {number} has an absolute path; an archive must hold relative paths only — pack the folder "
            "from inside it (e.g. `tar -C study -cf study.tar .`)"
        )
    if ".." in PurePosixPath(path).parts:
        raise ArchiveRefused(f"member {number} has a path that climbs out of the archive ('..'); remove it and pack again")


def _check_total(total: int, compressed_size: int, members: int, limits: Limits) -> None:
    if members > limits.max_members:
        raise ArchiveRefused(f"the archive holds more than {limits.max_members} files; split it into several uploads")
    if total > limits.max_total_bytes:
        raise ArchiveRefused(
            f"the archive unpacks to more than {limits.max_total_bytes} bytes (the limit); split it into several uploads"
        )
    if total > limits.max_ratio * max(compressed_size, 1):
        raise ArchiveRefused(
            f"the archive unpacks to {total} bytes or more from {compressed_size} (over the {limits.max_ratio:g}× "
            "compression allowed): refused as a likely decompression bomb; upload the files uncompressed or in several archives"
        )


def _zip_members(archive: zipfile.ZipFile, compressed_size: int, limits: Limits) -> list[Member]:
    members, total = [], 0
    for number, info in enumerate(archive.infolist(), 1):
        _check_name(info.filename, number)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise ArchiveRefused(f"member {number} is a symbolic link; links are refused — pack the files themselves")
        if stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise ArchiveRefused(f"member {number} is not a regular file (a device or pipe); pack regular files only")
        if info.flag_bits & 0x1:
            raise ArchiveRefused(f"member {number} is encrypted; upload an archive without a password")
        total += info.file_size
        _check_total(total, compressed_size, number, limits)
        if not info.is_dir():
            members.append(Member(number, info.file_size, suffix_of(info.filename), info.filename))
    return members


def _tar_members(archive: tarfile.TarFile, compressed_size: int, limits: Limits) -> tuple[list[Member], dict[int, tarfile.TarInfo]]:
    members, infos, total, number = [], {}, 0, 0
    while True:
        try:
            info = archive.next()  # reads one header; the previous member's content is skipped, never kept
        except (tarfile.TarError, OSError, EOFError, zlib.error) as error:
            raise ArchiveRefused(f"the tar file is damaged after member {number} ({error}); create it again and upload it") from None
        if info is None:
            return members, infos
        number += 1
        _check_name(info.name, number)
        if info.issym() or info.islnk():
            raise ArchiveRefused(f"member {number} is a link; links are refused — pack the files themselves")
        if not (info.isreg() or info.isdir()):
            raise ArchiveRefused(f"member {number} is not a regular file (a device or pipe); pack regular files only")
        total += info.size
        _check_total(total, compressed_size, number, limits)
        if info.isreg():
            members.append(Member(number, info.size, suffix_of(info.name), info.name))
            infos[number] = info
