"""`radlab anonymize SRC_DIR DST_DIR`: de-identify a folder of DICOM and NIfTI files on this machine, writing atomically,
with the pixels checked for burned-in identity as the service checks them."""

from __future__ import annotations

import hashlib
import os
import sys
import warnings
from pathlib import Path

from services.anonymization.domain.engine import anonymize
from services.anonymization.domain.nifti import deidentify_nifti, is_nifti
from services.anonymization.handlers.burned_in import BurnedInText, screened
from services.anonymization.rules_table import load_rule_table
from shared.errors import InvalidArgument
from shared.files import write_atomically

KEY_VARIABLE = "RADLAB_ANON_KEY"


def read_key(key_file: str | None) -> bytes:
    """The key from --key-file, else RADLAB_ANON_KEY; refuse to run without one."""
    if key_file:
        if not Path(key_file).is_file():
            raise InvalidArgument(f"--key-file {key_file} is not a file; name the file that holds the anonymization key")
        key = Path(key_file).read_bytes().strip()
    else:
        key = os.environ.get(KEY_VARIABLE, "").encode()
    if len(key) < 16:
        raise InvalidArgument(
            f"no anonymization key: set {KEY_VARIABLE} or pass --key-file with at least 16 bytes "
            "(the same key gives the same pseudonyms and UIDs; keep it secret and keep it)"
        )
    return key


def output_path(destination: Path, result, written: set[Path]) -> tuple[Path, bool, str]:
    """Where an output goes, whether to write it, and a note for the user. Outputs are named by their SOP Instance
    UID (held ones under held/); when an earlier file of the run wrote the same bytes there it is one instance
    sent twice (written once), when it wrote other bytes under the same UID this one becomes `<uid>_2.dcm`…, so
    neither is lost. `written` is this run's record of paths, updated here."""
    folder = destination / "held" if result.report.held else destination
    target, copy = folder / f"{result.identity.instance_uid}.dcm", 1
    while target in written:
        if target.read_bytes() == result.data:  # read back only on a clash, which is rare
            return target, False, " (the same instance as an earlier file: written once)"
        copy += 1
        target = folder / f"{result.identity.instance_uid}_{copy}.dcm"
    written.add(target)
    return target, True, " (another file has the same SOP Instance UID: kept beside it)" if copy > 1 else ""


def anonymize_folder(source: Path, destination: Path, key: bytes, tenant: str = "default", out=None,
                     burned_in: BurnedInText = BurnedInText()) -> int:
    """De-identify every file under `source` into `destination` (held instances into destination/held/),
    named by their new SOP Instance UID (NIfTI: by a digest of the cleaned file) so no input file name
    (which may hold PHI) is carried over; text burned into the pixels is held or redacted as `burned_in` says.
    Returns the number of files that failed; a failed file writes nothing."""
    out = out or sys.stdout
    if not Path(source).is_dir():
        raise InvalidArgument(f"{source} is not a folder; name the folder that holds the DICOM and NIfTI files")
    if Path(destination).exists() and not Path(destination).is_dir():
        raise InvalidArgument(f"{destination} is a file; name a folder for the output (it is made if missing)")
    table = load_rule_table()
    scan = str(Path(source).resolve())  # instances of the folder lacking a Study or Series UID stay together
    files = sorted(path for path in Path(source).rglob("*") if path.is_file())
    if not files:
        raise InvalidArgument(f"{source} holds no files; name the folder that holds the DICOM and NIfTI files")
    failed = 0
    written: set[Path] = set()  # this run's DICOM outputs: two files with one SOP Instance UID must not overwrite
    for number, path in enumerate(files, 1):
        label = f"[{number}/{len(files)}] file {number}"  # the input name may itself be PHI: never printed
        try:
            data = path.read_bytes()
            if is_nifti(data):
                cleaned = deidentify_nifti(data).data
                target = destination / f"{hashlib.sha256(cleaned).hexdigest()[:32]}.nii.gz"
                write_atomically(target, cleaned)
                print(f"{label}: ok -> {target.relative_to(destination)}", file=out)
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = screened(data, anonymize(data, table, key, tenant, scan=scan), burned_in)
        except InvalidArgument as error:
            failed += 1
            print(f"{label}: FAILED, nothing written: {error}", file=out)
            continue
        target, new, note = output_path(destination, result, written)
        if new:
            write_atomically(target, result.data)
        status = f"HELD for review ({result.report.held_reason})" if result.report.held else "ok"
        print(f"{label}: {status} -> {target.relative_to(destination)}{note}", file=out)
    print(f"{len(files) - failed} de-identified, {failed} failed", file=out)
    return failed
