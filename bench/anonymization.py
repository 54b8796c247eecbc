"""Anonymization benchmark: Radlab's engine (in-process and CLI) against gdcmanon, dicognito, dicom-anonymizer and deid, same files, one run; then the pixel PHI table (bench/anonymization_pixels.py)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Callable

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from bench import anonymization_pixels
from bench.scoring import Planted, integrity, leaks
from shared import config

REPO = Path(__file__).resolve().parents[1]
KEY = b"radlab-bench-key-0123456789abcdef"
CORPUS_INSTANCES = 8
TIMEOUT_S = 150
PDF_STORAGE = "1.2.840.10008.5.1.4.1.1.104.1"
# Already de-identified input (PatientIdentityRemoved YES) is refused by gdcmanon, so these go for everyone.
MARKERS = (0x00120062, 0x00120063, 0x00120064)
# Every DICOM series in data/ (the set, with the corpus): MR, tilted CT, JPEG 2000 CT, SEG, RT.
REAL_SERIES = (
    "dcm_qa_deident/In", "dcm_qa_ct/In/GE", "totalsegmentator/tests/reference_files/example_ct_dicom",
    "dcmqi/data/segmentations", "rt_utils/tests/mock_data",
)


class ToolFailed(Exception):
    """A peer (or Radlab) crashed, timed out or is not installed; the message is one line for the table."""


@dataclass
class Tool:
    """One anonymizer as the benchmark runs it: run(src, dst) writes de-identified copies of src into dst."""

    name: str
    version: str
    mode: str
    run: Callable[[Path, Path], str | None] | None = None
    unavailable: str | None = None
    per_file: Callable[[Path, Path], str | None] | None = None  # fallback after a crash on the folder, to score what it can


@dataclass
class Outcome:
    """What one tool did to one input set: status, wall time, leak and integrity scores."""

    status: str = "ok"
    seconds: float | None = None
    leaks: dict | None = None
    integrity: dict | None = None


@dataclass
class Row:
    """One tool's line of the table: its outcome on the PHI corpus and on the real MR series."""

    tool: Tool
    outcomes: dict[str, Outcome] = field(default_factory=dict)


# ---- inputs ------------------------------------------------------------------------------------------------------
def build_corpus(folder: Path, instances: int = CORPUS_INSTANCES) -> set[str]:
    """A PHI-seeded study (tests/phi_corpus.py): a chain of CT instances, each referring to the previous one, plus an
    encapsulated PDF report; canaries in file names too. Returns every canary planted."""
    from services.anonymization.rules_table import load_rule_table
    from tests.phi_corpus import PATIENT_ID, PATIENT_NAME, UID_CANARY, build_instance

    table = load_rule_table()
    folder.mkdir(parents=True, exist_ok=True)
    study = f"{UID_CANARY}.6.1"
    canaries: set[str] = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for number in range(1, instances + 1):
            references = f"{UID_CANARY}.9.{number - 1}" if number > 1 else None
            data, corpus, _dataset = build_instance(table, study_uid=study, instance=number, references=references,
                                                    acquisition_date=f"201903{10 + number:02d}")
            canaries |= corpus.canaries
            (folder / f"{PATIENT_NAME.split('^')[0]}_{PATIENT_ID}_{number:03d}.dcm").write_bytes(data)
        document, planted = _document(study, f"{UID_CANARY}.9.1", f"{UID_CANARY}.9.{instances + 1}")
        canaries |= planted
        (folder / f"{PATIENT_ID}_report.dcm").write_bytes(document)
    return canaries | {PATIENT_NAME.split("^")[0], PATIENT_ID}


def _document(study: str, referenced: str, uid: str) -> tuple[bytes, set[str]]:
    """An Encapsulated PDF report of the same patient whose PDF text and title carry canaries."""
    from tests.phi_corpus import PATIENT_ID, PATIENT_NAME

    from pydicom.sequence import Sequence

    title, body = "CNRYDOCTITLE00001", "CNRYDOCBODY00001"
    dataset = Dataset()
    dataset.SOPClassUID, dataset.SOPInstanceUID = PDF_STORAGE, uid
    dataset.StudyInstanceUID, dataset.SeriesInstanceUID = study, uid + ".1"
    dataset.PatientName, dataset.PatientID, dataset.Modality = PATIENT_NAME, PATIENT_ID, "DOC"
    dataset.InstanceNumber, dataset.BurnedInAnnotation, dataset.DocumentTitle = 1, "YES", title
    dataset.MIMETypeOfEncapsulatedDocument = "application/pdf"
    reference = Dataset()
    reference.ReferencedSOPClassUID, reference.ReferencedSOPInstanceUID = "1.2.840.10008.5.1.4.1.1.2", referenced
    dataset.SourceInstanceSequence = Sequence([reference])
    pdf = (f"%PDF-1.4\n1 0 obj << /Title ({title}) >> endobj\nBT (Report for {PATIENT_NAME} {PATIENT_ID}: {body}) Tj ET\n%%EOF\n").encode()
    dataset.EncapsulatedDocument = pdf + b"\x00" * (len(pdf) % 2)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = PDF_STORAGE, uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset.file_meta = meta
    from io import BytesIO

    output = BytesIO()
    dataset.save_as(output, enforce_file_format=True)
    return output.getvalue(), {title, body}


def prepare_series(source: Path, folder: Path, recursive: bool = False, prefix: str = "") -> int:
    """Copy a real series (its DICOM files) for every tool alike, less the 'already de-identified' markers gdcmanon
    refuses."""
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for path in sorted(p for p in (source.rglob("*") if recursive else source.iterdir()) if p.is_file()):
        with path.open("rb") as file:
            if file.read(132)[128:] != b"DICM":
                continue
        dataset = pydicom.dcmread(path)
        for tag in MARKERS:
            if tag in dataset:
                del dataset[tag]
        dataset.save_as(folder / f"{prefix}{count:04d}_{path.name}" if prefix else folder / path.name)
        count += 1
    return count


def prepare_real(data_dir: Path, folder: Path) -> int:
    """Every real series of data/ in one folder (names prefixed by series, so none collide)."""
    return sum(prepare_series(data_dir / series, folder, recursive=True, prefix=f"s{number}_")
               for number, series in enumerate(REAL_SERIES, 1))


def warm_up() -> None:
    """Load the engine as a running service has it (modules, rule table, decisions) before anything is timed."""
    from services.anonymization.domain.engine import anonymize
    from services.anonymization.rules_table import load_rule_table
    from tests.phi_corpus import build_instance

    table = load_rule_table()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        anonymize(build_instance(table, study_uid="1.2.3", instance=1)[0], table, KEY)


# ---- the tools ---------------------------------------------------------------------------------------------------
def _first_error_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    flagged = [line for line in lines if re.search(r"error|exception|could not|cannot|failed", line, re.I)
               and not line.startswith(("Traceback", "File "))]
    return ((flagged or lines or ["(no output)"])[-1 if flagged and "Error" in flagged[-1] else 0])[:140]


def _subprocess(command: list[str], env: dict | None = None) -> Callable[[Path, Path], str | None]:
    def run(source: Path, destination: Path) -> str | None:
        full = [part.replace("{src}", str(source)).replace("{dst}", str(destination)) for part in command]
        try:
            done = subprocess.run(full, capture_output=True, text=True, timeout=TIMEOUT_S, env={**os.environ, **(env or {})})
        except subprocess.TimeoutExpired:
            raise ToolFailed(f"timed out after {TIMEOUT_S} s") from None
        except OSError as error:
            raise ToolFailed(f"cannot start: {error}") from None
        if done.returncode != 0:
            raise ToolFailed(f"exit {done.returncode}: {_first_error_line(done.stderr + done.stdout)}")
        quiet = done.stderr + done.stdout
        return _first_error_line(quiet) if re.search(r"Could not De-indentify|Traceback", quiet) else None

    return run


def radlab_in_process(source: Path, destination: Path) -> None:
    """The engine called directly, file by file: read, anonymize, write — the folder as one scan, outputs named as
    `radlab anonymize` names them (as the service does, minus the buckets)."""
    from services.anonymization.cli import output_path
    from services.anonymization.domain.engine import anonymize
    from services.anonymization.rules_table import load_rule_table
    from shared.errors import InvalidArgument

    table = load_rule_table()
    (destination / "held").mkdir(parents=True, exist_ok=True)
    failed, engines, written = [], Counter(), set()
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = anonymize(path.read_bytes(), table, KEY, scan=source.name)
        except InvalidArgument as error:
            failed.append(str(error))
            continue
        engines[result.engine] += 1
        target, new, _note = output_path(destination, result, written)
        if new:
            target.write_bytes(result.data)
    print(f"  radlab engine on {source.name}: " + ", ".join(f"{count} files by the {name} engine" for name, count in sorted(engines.items())))
    if failed:
        raise ToolFailed(f"{len(failed)} failed: {failed[0][:120]}")


def _version(command: list[str]) -> str:
    try:
        text = subprocess.run(command, capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return text.strip().splitlines()[0] if text.strip() else "?"


def install_peers(workdir: Path) -> tuple[Path | None, str]:
    """Run bench/peers.sh (cached after the first time); the peers' venv and the script's messages."""
    done = subprocess.run(["bash", str(REPO / "bench" / "peers.sh")], capture_output=True, text=True, cwd=REPO, timeout=900)
    match = re.search(r"^PEERS_VENV=(.+)$", done.stdout, re.M)
    return (Path(match.group(1)) if match else None), done.stderr.strip()


def tools(workdir: Path) -> list[Tool]:
    """Radlab twice (in-process, CLI) and the four peers, each usable or marked unavailable with the reason."""
    venv, _messages = install_peers(workdir)
    python = venv / "bin" / "python" if venv else None
    radlab_version = _package_version(sys.executable, "radlab")
    radlab_cli = Path(sys.executable).parent / "radlab"
    found: list[Tool] = [
        Tool("radlab (engine)", radlab_version, "in-process", radlab_in_process),
        Tool("radlab (CLI)", radlab_version, "CLI", _subprocess([str(radlab_cli), "anonymize", "{src}", "{dst}"],
                                                               {"RADLAB_ANON_KEY": KEY.decode()})),
    ]
    gdcmanon = shutil.which("gdcmanon")
    certificate = _certificate(workdir)
    if gdcmanon is None:
        found.append(Tool("gdcmanon", "-", "CLI", unavailable=f"not installed: {_install_log('gdcmanon')}"))
    elif isinstance(certificate, str):
        found.append(Tool("gdcmanon", _version([gdcmanon, "--version"]), "CLI", unavailable=certificate))
    else:
        found.append(Tool("gdcmanon", _version([gdcmanon, "--version"]).replace("gdcmanon: ", "").replace(" $Date$", ""), "CLI",
                          _subprocess([gdcmanon, "-e", "-c", str(certificate), "--continue", "-r", "-i", "{src}", "-o", "{dst}"]),
                          per_file=_subprocess([gdcmanon, "-e", "-c", str(certificate), "-i", "{src}", "-o", "{dst}"])))
    peers = {
        # dicognito 0.19.0's console script calls main() without its argument, so it runs as a module.
        "dicognito": ("dicognito", [str(python), "-m", "dicognito", "-o", "{dst}", "{src}"]),
        "dicom-anonymizer": ("dicom-anonymizer", [str(venv / "bin" / "dicom-anonymizer") if venv else "", "{src}", "{dst}"]),
        "deid": ("deid", [str(python), str(REPO / "bench" / "deid_driver.py"), "{src}", "{dst}"]),
    }
    for name, (package, command) in peers.items():
        version = _package_version(str(python), package) if python and python.exists() else None
        if version is None:
            found.append(Tool(name, "-", "CLI" if name != "deid" else "library", unavailable=_peer_error(venv, package)))
        else:
            runner = _subprocess(command)
            if name == "dicom-anonymizer":
                runner = _make_destination(runner)
            found.append(Tool(name, version, "CLI" if name != "deid" else "library (driver)", runner))
    return found


def _make_destination(run: Callable[[Path, Path], str | None]) -> Callable[[Path, Path], str | None]:
    def wrapped(source: Path, destination: Path) -> None:
        destination.mkdir(parents=True, exist_ok=True)  # dicom-anonymizer refuses a folder that is not there
        return run(source, destination)

    return wrapped


def _package_version(python: str, package: str) -> str | None:
    if python == sys.executable:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return None
    done = subprocess.run([python, "-c", f"import importlib.metadata as m; print(m.version({package!r}))"],
                          capture_output=True, text=True, timeout=60)
    return done.stdout.strip() or None if done.returncode == 0 else None


def _peer_error(venv: Path | None, package: str) -> str:
    if venv is None:
        return "not installed: bench/peers.sh gave no virtualenv"
    log = venv / "errors" / f"{package}.log"
    if log.exists():
        return f"install failed: {_first_error_line(log.read_text())}"
    return "not installed (see bench/peers.sh)"


def _install_log(name: str) -> str:
    log = Path(os.environ.get("RADLAB_CACHE") or Path.home() / ".cache" / "radlab") / "bench-peers-apt" / f"{name}.log"
    return _first_error_line(log.read_text()) if log.exists() else "install libgdcm-tools"


def _certificate(workdir: Path) -> Path | str:
    """gdcmanon's PS3.15 mode encrypts the originals into the file for re-identification: it needs a certificate."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return "openssl missing: gdcmanon -e needs a certificate"
    key, certificate = workdir / "gdcm-key.pem", workdir / "gdcm-cert.pem"
    done = subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(certificate),
                           "-subj", "/CN=radlab-bench", "-days", "2"], capture_output=True, text=True, timeout=60)
    return certificate if done.returncode == 0 else f"could not make a certificate: {_first_error_line(done.stderr)}"


# ---- one run ------------------------------------------------------------------------------------------------------
def measure(tool: Tool, source: Path, workdir: Path, planted: Planted | None) -> Outcome:
    """Run `tool` on a fresh copy of `source` and score what it wrote (also after a crash: partial output counts)."""
    if tool.unavailable:
        return Outcome(status=tool.unavailable)
    slug = re.sub(r"[^a-z0-9]+", "-", tool.name.lower()).strip("-")
    copy, output = workdir / f"{slug}-{source.name}-in", workdir / f"{slug}-{source.name}-out"
    shutil.copytree(source, copy)
    outcome = Outcome()
    started = time.perf_counter()
    notes = None
    try:
        notes = tool.run(copy, output)
    except ToolFailed as error:
        outcome.status = str(error)
    except Exception as error:  # a bug in a runner must not take the whole benchmark down
        outcome.status = f"crashed: {type(error).__name__}: {str(error).splitlines()[0][:120] if str(error) else ''}"
    outcome.seconds = time.perf_counter() - started
    if outcome.status != "ok" and tool.per_file is not None:
        outcome.status += "; " + _file_by_file(tool, copy, output)
    if notes and outcome.status == "ok":
        outcome.status = f"ok, but: {notes}"
    output.mkdir(parents=True, exist_ok=True)
    outcome.integrity = integrity(source, output)
    if planted is not None:
        outcome.leaks = leaks(output, planted)
    return outcome


def _file_by_file(tool: Tool, source: Path, output: Path) -> str:
    """After a crash on the whole folder, run the tool on each file alone so its output can still be scored."""
    shutil.rmtree(output, ignore_errors=True)
    output.mkdir(parents=True)
    files = sorted(p for p in source.rglob("*") if p.is_file())
    failed = 0
    for path in files:
        try:
            tool.per_file(path, output / path.name)
        except ToolFailed:
            failed += 1
    return f"rerun file by file: {failed}/{len(files)} failed"


def run(data_dir: Path | None = None) -> dict:
    """The whole benchmark: inputs, tools, measurements; prints the table and returns the results (also saved as JSON)."""
    data_dir = data_dir or config.data_dir()
    workdir = Path(tempfile.mkdtemp(prefix="radlab-bench-anonymization-"))
    started = time.perf_counter()
    corpus_dir, series_dir, real_dir = workdir / "phi-corpus", workdir / "mr-196", workdir / "real-series"
    canaries = build_corpus(corpus_dir)
    planted = Planted.from_inputs(corpus_dir, canaries)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prepare_series(data_dir / "dcm_qa_deident" / "In", series_dir)
        prepare_real(data_dir, real_dir)
    sets = {"corpus": (corpus_dir, planted), "mr": (series_dir, None), "real": (real_dir, None)}
    warm_up()
    sizes = {name: (len(list(folder.iterdir())), sum(p.stat().st_size for p in folder.iterdir())) for name, (folder, _) in sets.items()}
    rows = []
    for tool in tools(workdir):
        row = Row(tool)
        for name, (folder, canary_set) in sets.items():
            row.outcomes[name] = measure(tool, folder, workdir / "runs", canary_set)
        rows.append(row)
        print(f"  measured {tool.name}: {row.outcomes['mr'].status}", flush=True)
    results = report(rows, sizes, planted)
    results["workdir"] = str(workdir)
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    path = workdir / "anonymization.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    if os.environ.get("RADLAB_BENCH_KEEP") == "1":
        print(f"\ninputs and every tool's output kept under {workdir}")
    else:
        for folder in (workdir / "runs", series_dir, real_dir):
            shutil.rmtree(folder, ignore_errors=True)  # ~0.4 GB of copies; RADLAB_BENCH_KEEP=1 keeps them
    print(f"\nJSON: {path}")
    print(f"anonymization benchmark took {results['total_seconds']} s")
    results["pixels"] = anonymization_pixels.run(data_dir)
    return results


# ---- the table ----------------------------------------------------------------------------------------------------
def _rate(files: int, size: int, seconds: float | None) -> tuple[float | None, float | None, float | None]:
    if not seconds:
        return None, None, None
    return files / seconds, size / seconds / 1e6, seconds / files * 1000


def report(rows: list[Row], sizes: dict, planted: Planted) -> dict:
    """Print the table (and leak places, statuses) and return everything as plain data."""
    reference = next((r for r in rows if r.tool.mode == "in-process" and r.outcomes["mr"].status == "ok"), None)
    base = {name: _rate(*sizes[name], reference.outcomes[name].seconds)[0] if reference else None for name in sizes}
    header = ("tool", "version", "mode", "leaks tag/raw", "broken", "UIDs kept", "px same", "MR f/s", "MR MB/s",
              "MR ms/f", "all ms/f", "PHI f/s", "Radlab÷tool")
    lines, data = [], []
    for row in rows:
        corpus, mr = row.outcomes["corpus"], row.outcomes["mr"]
        entry = {"tool": row.tool.name, "version": row.tool.version, "mode": row.tool.mode, "sets": {}}
        if corpus.leaks is None and mr.integrity is None:
            lines.append((row.tool.name, row.tool.version, row.tool.mode, *["-"] * (len(header) - 3)))
        else:
            leak = corpus.leaks
            broken = corpus.integrity["broken"] + mr.integrity["broken"]
            kept = sum(o.integrity["identity_uids_out"] for o in (corpus, mr))
            total = sum(o.integrity["identity_uids_in"] for o in (corpus, mr))
            same = sum(o.integrity["pixels_stored_bits_identical"] for o in (corpus, mr))
            images = sum(o.integrity["images"] for o in (corpus, mr))
            mr_fps, mr_mbs, mr_ms = _rate(*sizes["mr"], _timed(mr))
            corpus_fps = _rate(*sizes["corpus"], _timed(corpus))[0]
            real_ms = _rate(*sizes["real"], _timed(row.outcomes["real"]))[2] if "real" in sizes else None
            ratio = f"{base['mr'] / mr_fps:.2f}×" if base["mr"] and mr_fps else "-"
            lines.append((row.tool.name, row.tool.version, row.tool.mode, f"{leak['tag_walk']}/{leak['raw_bytes']}", str(broken),
                          f"{kept}/{total}", f"{same}/{images}", _fmt(mr_fps), _fmt(mr_mbs), _fmt(mr_ms), _fmt(real_ms),
                          _fmt(corpus_fps), ratio))
        for name, outcome in row.outcomes.items():
            files, size = sizes[name]
            fps, mbs, ms = _rate(files, size, _timed(outcome))
            entry["sets"][name] = {"status": outcome.status, "seconds": outcome.seconds, "files_per_s": fps, "mb_per_s": mbs,
                                   "ms_per_file": ms, "radlab_speedup": (base[name] / fps) if base[name] and fps else None,
                                   "leaks": outcome.leaks, "integrity": outcome.integrity}
        data.append(entry)
    widths = [max(len(str(line[i])) for line in [header, *lines]) for i in range(len(header))]
    print()
    print(f"Anonymization: PHI corpus {sizes['corpus'][0]} files ({len(planted.places)} canaries planted), "
          f"real MR {sizes['mr'][0]} files ({sizes['mr'][1] / 1e6:.1f} MB)"
          + (f", every real series {sizes['real'][0]} files ({sizes['real'][1] / 1e6:.1f} MB)" if "real" in sizes else "")
          + "; wall time incl. process start for CLIs, the in-process engine loaded first as a running service has it")
    for line in [header, *lines]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths)))
    print("\nleaks tag/raw: canaries found by a tag walk / by a raw-byte scan of every output file and its name (0 is the goal)")
    print("broken: in-set references that no longer resolve + study/series/frame-of-reference groupings split or merged")
    print("Radlab's held/ folder (instances held for burned-in text review) is scanned too; speeds only for completed runs")
    print("UIDs kept: Study/Series/SOP Instance/Frame of Reference UIDs present in the output; px same: images whose stored bits"
          " are unchanged; Radlab÷tool: Radlab engine's MR files/s over the tool's (>1: Radlab faster)\n")
    for row, entry in zip(rows, data):
        corpus = row.outcomes["corpus"]
        print(f"{row.tool.name}:")
        for name, outcome in row.outcomes.items():
            if outcome.status != "ok":
                print(f"    {name}: {outcome.status}")
        if corpus.leaks and corpus.leaks["places"]:
            print("    leaked from: " + ", ".join(f"{place} {count}" for place, count in corpus.leaks["places"].items()))
            if corpus.leaks["tag_walk"] + corpus.leaks["raw_bytes"] <= 20:
                print("    leaked: " + ", ".join(f"{canary} ({place})" for canary, place in corpus.leaks["examples"].items()))
        for name, outcome in row.outcomes.items():
            if outcome.integrity:
                i = outcome.integrity
                print(f"    {name}: {i['files_out']}/{i['files_in']} files out, refs {i['references_resolved']}/{i['references_in_set']} resolve,"
                      f" studies {i['studies'][0]}→{i['studies'][1]}, series {i['series'][0]}→{i['series'][1]},"
                      f" FoR {i['frames_of_reference'][0]}→{i['frames_of_reference'][1]}, UIDs unchanged {i['identity_uids_unchanged']},"
                      f" pixels byte-identical {i['pixels_byte_identical']}/{i['images']}")
    gdcm = next((e for e in data if e["tool"] == "gdcmanon"), None)
    print()
    for name, label in (("real", f"every real series ({sizes.get('real', (0,))[0]} files)"), ("mr", "the MR series")):
        if reference and gdcm and name in sizes and gdcm["sets"][name]["ms_per_file"]:
            factor = entry_ms(data, reference.tool.name, name) / gdcm["sets"][name]["ms_per_file"]
            print(f"goal (issue 4): ≤ 1.5× gdcmanon's ms/file on {label}: Radlab engine is {factor:.2f}× → "
                  f"{'met' if factor <= 1.5 else 'NOT met'}")
    return {"sizes": sizes, "canaries_planted": len(planted.places), "tools": data}


def _timed(outcome: Outcome) -> float | None:
    """The wall time, only for a run that completed (a crash's time says nothing about speed)."""
    return outcome.seconds if outcome.integrity and outcome.status.startswith("ok") else None


def entry_ms(data: list[dict], name: str, dataset: str = "mr") -> float:
    return next(e for e in data if e["tool"] == name)["sets"][dataset]["ms_per_file"]


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}" if value >= 1 else f"{value:.2f}"
