"""`radlab pacs query|pull --url DICOMWEB_URL`: find a PACS's studies (QIDO-RS) and pull them into a dataset (WADO-RS,
then one upload per study), with a progress bar, resuming a broken pull where it stopped; `radlab pacs query|move
--dimse HOST:PORT`: the same search by C-FIND, and studies sent on by C-MOVE to Radlab's C-STORE SCP."""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

DEFAULT_ATTEMPTS = 5
UPLOADED_MARK = ".radlab-upload"  # in a study's pull folder, once its upload is handed on: the upload id
_DATE = re.compile(r"\d{8}")
_UID = re.compile(r"[0-9.]{1,64}")  # what names a pull's folders and files: nothing else reaches a path


class PacsFailed(RuntimeError):
    """The PACS stopped answering, refused a request or answered what cannot be used; what was received is kept for
    the next run."""


def add_commands(commands, server_command) -> None:
    """Register `radlab pacs query` and `radlab pacs pull` on the `radlab` parser's subcommands."""
    pacs = commands.add_parser("pacs", help="find studies on a PACS and bring them into a dataset (DICOMweb or DIMSE)")
    pacs.set_defaults(run=lambda _args: pacs.print_help() or 2)
    verbs = pacs.add_subparsers(title="pacs commands")
    query = verbs.add_parser("query", help="list a PACS's studies of a study, a patient or a date range (QIDO-RS or C-FIND)")
    _selection(query)
    _dimse(query)
    query.set_defaults(run=server_command("pacs query", _query))
    move = verbs.add_parser("move", help="have a PACS send its studies to Radlab's C-STORE SCP (C-MOVE); they go into "
                            "the dataset its AE title is bound to (RADLAB_DICOM_SOURCES)")
    _selection(move, dicomweb=False)
    _dimse(move)
    move.add_argument("--destination", default=os.environ.get("RADLAB_DICOM_AE_TITLE") or "RADLAB",
                      help="the AE title the PACS knows Radlab's SCP by (default RADLAB_DICOM_AE_TITLE or RADLAB)")
    move.set_defaults(run=server_command("pacs move", _move))
    pull = verbs.add_parser("pull", help="pull a PACS's studies into a dataset (WADO-RS, then an upload per study)")
    _selection(pull)
    pull.add_argument("--dataset", required=True, help="the dataset id (radlab datasets create NAME)")
    pull.add_argument("--into", help="folder keeping a study's instances until its upload is handed on, so a broken "
                      "pull resumes (default: RADLAB_HOME/pulls)")
    pull.add_argument("--wait", action="store_true", help="wait until the volumes are built (or an upload failed)")
    pull.set_defaults(run=server_command("pacs pull", _pull))


def _selection(parser: argparse.ArgumentParser, dicomweb: bool = True) -> None:
    if dicomweb:
        parser.add_argument("--url", help="the PACS's DICOMweb root, e.g. http://pacs:8042/dicom-web")
    parser.add_argument("--study", help="a Study Instance UID")
    parser.add_argument("--patient", help="a Patient ID: every study of that patient")
    parser.add_argument("--since", help="studies from this date on, YYYYMMDD")
    parser.add_argument("--until", help="studies up to this date, YYYYMMDD")
    parser.add_argument("--attempts", type=int, default=DEFAULT_ATTEMPTS,
                        help=f"tries of each request to a PACS that does not answer, waiting 2, 4, 8 … s between them "
                             f"(default {DEFAULT_ATTEMPTS})")


def _dimse(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dimse", metavar="HOST:PORT", help="the PACS's DICOM side instead of DICOMweb, e.g. pacs:104")
    parser.add_argument("--called-ae", help="the PACS's AE title (with --dimse)")
    parser.add_argument("--calling-ae", default=os.environ.get("RADLAB_DICOM_AE_TITLE") or "RADLAB",
                        help="the AE title Radlab calls the PACS with, one the PACS lists for this host "
                             "(default RADLAB_DICOM_AE_TITLE or RADLAB)")


def _dimse_pacs(args: argparse.Namespace):
    """The PACS's DIMSE side named by --dimse/--called-ae/--calling-ae."""
    from radlab.pacs_dimse import Pacs

    if getattr(args, "url", None):
        raise ValueError("name the PACS by --url (DICOMweb) or by --dimse (DICOM), not both")
    if not args.called_ae:
        raise ValueError("--dimse needs the PACS's AE title: --called-ae TITLE")
    return Pacs.parse(args.dimse, args.called_ae, args.calling_ae)


def _filters(args: argparse.Namespace) -> dict[str, str]:
    """QIDO-RS matching keys for the study, patient or date range asked for; asking for none is refused."""
    for name in ("since", "until"):
        if getattr(args, name) and not _DATE.fullmatch(getattr(args, name)):
            raise ValueError(f"--{name} is a date as YYYYMMDD (e.g. 20240131), not {getattr(args, name)!r}")
    filters = {"StudyInstanceUID": args.study, "PatientID": args.patient}
    if args.since or args.until:
        filters["StudyDate"] = f"{args.since or ''}-{args.until or ''}"
    filters = {key: value for key, value in filters.items() if value}
    if not filters:
        raise ValueError("name a study (--study UID), a patient (--patient ID) or a date range (--since/--until YYYYMMDD)")
    return filters


def _studies(pacs, url: str, args: argparse.Namespace) -> list:
    """The studies matching the selection, as pydicom Datasets of their QIDO-RS attributes."""
    from pydicom import Dataset

    fields = ["StudyDate", "StudyDescription", "ModalitiesInStudy", "NumberOfStudyRelatedInstances", "PatientID"]
    found = _asking(url, lambda: pacs.search_for_studies(search_filters=_filters(args), fields=fields, get_remaining=True))
    return [Dataset.from_json(study) for study in found]


def _asking(url: str, call):
    """`call()`, a request to the PACS; its failing to answer becomes PacsFailed, naming the PACS."""
    try:
        return call()
    except _request_failures() as error:
        raise PacsFailed(f"the PACS at {url} refused or did not answer ({_short(error)})") from None


def _request_failures() -> tuple[type[Exception], ...]:
    """What a request to a PACS raises when it fails: requests' errors, and retrying's once dicomweb-client has tried
    a request --attempts times and the PACS still answered "busy" (429, 503 …)."""
    import requests
    from retrying import RetryError

    return requests.RequestException, RetryError


def _short(error: Exception) -> str:
    return f"{type(error).__name__}: {str(error)[:200]}"


def _client(args: argparse.Namespace):
    from dicomweb_client.api import DICOMwebClient

    if args.attempts < 1:
        raise ValueError(f"--attempts is at least 1, not {args.attempts}")
    pacs = DICOMwebClient(url=args.url.rstrip("/"))
    pacs.set_http_retry_params(max_attempts=args.attempts)
    return pacs


def _query(args: argparse.Namespace) -> int:
    if args.dimse:
        from radlab.pacs_dimse import find_studies

        pacs = _dimse_pacs(args)
        studies, where = find_studies(pacs, _filters(args)), str(pacs)
    elif args.url:
        studies, where = _studies(_client(args), args.url, args), args.url
    else:
        raise ValueError("name the PACS: --url DICOMWEB_ROOT, or --dimse HOST:PORT --called-ae TITLE")
    for study in studies:
        modalities = "\\".join(study.get("ModalitiesInStudy", []) or [])
        print(f"{study.StudyInstanceUID}  {study.get('StudyDate', '') or '-':8}  {modalities or '-':6}  "
              f"{study.get('NumberOfStudyRelatedInstances', '?')} instance(s)  {study.get('StudyDescription', '') or ''}")
    print(f"{len(studies)} study(ies) at {where}", file=sys.stderr)
    return 0


def _move(args: argparse.Namespace) -> int:
    """C-MOVE each matching study to Radlab's SCP, one progress bar each; non-zero if an instance failed."""
    from tqdm import tqdm

    from radlab.pacs_dimse import find_studies, move_study

    if not args.dimse:
        raise ValueError("radlab pacs move asks a PACS's DICOM side: --dimse HOST:PORT --called-ae TITLE "
                         "(over DICOMweb, use radlab pacs pull)")
    pacs = _dimse_pacs(args)
    studies = find_studies(pacs, _filters(args))
    if not studies:
        print(f"no study at {pacs} matches; nothing moved", file=sys.stderr)
        return 1
    failed = 0
    for number, study in enumerate(studies, 1):
        uid = _uid(str(pacs), study.get("StudyInstanceUID", ""))
        with tqdm(desc=f"study {number}/{len(studies)}", unit="instance", file=sys.stderr) as bar:
            def shown(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            moved = move_study(pacs, uid, args.destination, shown)
        failed += moved.failed
        print(f"study {number}/{len(studies)} {uid}: {moved.completed} instance(s) sent to {args.destination}"
              f"{f', {moved.failed} failed' if moved.failed else ''}{f', {moved.warnings} with a warning' if moved.warnings else ''}")
    print(f"Radlab takes each study once it has been quiet RADLAB_DICOM_QUIET_S seconds, into the dataset "
          f"RADLAB_DICOM_SOURCES binds {pacs.called_ae} to", file=sys.stderr)
    return 1 if failed else 0


def _pull(args: argparse.Namespace) -> int:
    from radlab.client import Client
    from radlab.ingestion.v1 import ingestion_service_pb2 as pb

    if not args.url:
        raise ValueError("radlab pacs pull retrieves over DICOMweb: --url DICOMWEB_ROOT (from a PACS's DICOM side, "
                         "radlab pacs move --dimse HOST:PORT has it send the studies to Radlab's SCP)")
    pacs = _client(args)
    studies = _studies(pacs, args.url, args)
    if not studies:
        print(f"no study at {args.url} matches; nothing pulled", file=sys.stderr)
        return 1
    root = Path(args.into or Path(os.environ.get("RADLAB_HOME") or "./.radlab") / "pulls")
    failed = 0
    with Client() as radlab:
        for number, study in enumerate(studies, 1):
            uid = _uid(args.url, study.get("StudyInstanceUID", ""))
            folder = root / uid
            mark = folder / UPLOADED_MARK
            if mark.is_file():
                upload = radlab.ingestion.GetUpload(pb.GetUploadRequest(upload_id=mark.read_text().strip())).upload
                print(f"study {number}/{len(studies)} {uid}: pulled before, upload {upload.upload_id}")
            else:
                received = _retrieve(pacs, args.url, uid, folder, f"study {number}/{len(studies)}")
                upload = radlab.upload(folder, args.dataset)
                mark.write_text(upload.upload_id)
                for instance in folder.glob("*.dcm"):  # handed on: the identified originals are not kept
                    instance.unlink()
                print(f"study {number}/{len(studies)} {uid}: {received} instance(s), upload {upload.upload_id} "
                      f"handed on to anonymization")
            if args.wait:
                upload = radlab.wait_for_upload(upload.upload_id)
                print(f"  {pb.UploadState.Name(upload.state).removeprefix('UPLOAD_STATE_')}: "
                      f"{len(upload.volume_ids)} volume(s) {' '.join(upload.volume_ids)}")
                if upload.failure_reason:
                    print(f"  {upload.failure_reason}", file=sys.stderr)
            failed += upload.state == pb.UPLOAD_STATE_FAILED
    return 1 if failed else 0


def _retrieve(pacs, url: str, study_uid: str, folder: Path, label: str) -> int:
    """Every instance of the study into `folder` (one file each, named by SOP Instance UID), skipping those a broken
    earlier run received; returns how many the study has. A PACS that stops answering raises PacsFailed saying how
    far it got: what arrived stays in `folder` for the next run."""
    from tqdm import tqdm

    instances = _asking(url, lambda: pacs.search_for_instances(study_instance_uid=study_uid, get_remaining=True))
    wanted = sorted({(_value(found, "0020000E"), _uid(url, _value(found, "00080018"))) for found in instances},
                    key=lambda uids: uids[1])
    if not wanted:
        raise PacsFailed(f"the PACS at {url} lists no instance of study {study_uid}")
    folder.mkdir(parents=True, exist_ok=True)
    for cut_short in folder.glob("*.part"):  # a run stopped while writing it
        cut_short.unlink()
    have = {path.stem for path in folder.glob("*.dcm")}
    if have:
        print(f"{label} {study_uid}: resuming, {len(have & {sop for _, sop in wanted})} of {len(wanted)} instance(s) "
              f"already received", file=sys.stderr)
    with tqdm(desc=label, total=len(wanted), unit="instance", file=sys.stderr) as bar:
        bar.update(sum(sop in have for _, sop in wanted))
        for series_uid, sop_uid in wanted:
            if sop_uid in have:
                continue
            try:
                instance = pacs.retrieve_instance(study_uid, series_uid, sop_uid)
            except _request_failures() as error:
                raise PacsFailed(
                    f"the PACS at {url} stopped answering after {bar.n} of {len(wanted)} instance(s) of study {study_uid} "
                    f"({_short(error)}); run the same command again to resume: the {bar.n} received are kept in {folder}"
                ) from None
            part = folder / f"{sop_uid}.part"
            instance.save_as(part, enforce_file_format=True)
            part.replace(folder / f"{sop_uid}.dcm")  # whole or absent: a file cut short is never taken for received
            bar.update(1)
    return len(wanted)


def _uid(url: str, uid: str) -> str:
    if not _UID.fullmatch(uid):
        raise PacsFailed(f"the PACS at {url} answered a UID that is not one ({uid[:80]!r}); nothing of it is pulled")
    return uid


def _value(attributes: dict, tag: str) -> str:
    values = attributes.get(tag, {}).get("Value") or [""]
    return str(values[0])
