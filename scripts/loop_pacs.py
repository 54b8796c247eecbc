"""The PACS `make run`'s scanner series comes from: Orthanc (scripts/infra/orthanc.sh) on ports and in a folder of its
own, so a test session's Orthanc is left alone; it stores a series by its REST API and sends it on by C-STORE."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from shared.stack import free_port

SCRIPT = Path(__file__).resolve().parent / "infra" / "orthanc.sh"


class PacsFailed(RuntimeError):
    """Orthanc did not start, store or send; the message says which and why."""


class OrthancPacs:
    """An Orthanc serving from `folder` once started; `close` stops it and removes its data."""

    def __init__(self, folder: Path):
        self.env = os.environ | {"RADLAB_INFRA_DIR": str(folder), "RADLAB_ORTHANC_HTTP_PORT": str(free_port()),
                                 "RADLAB_ORTHANC_DICOM_PORT": str(free_port())}
        self.url = ""
        self.ae_title = ""

    def start(self) -> None:
        started = subprocess.run(["bash", str(SCRIPT), "start"], env=self.env, capture_output=True, text=True)
        if started.returncode != 0:
            raise PacsFailed(f"Orthanc did not start: {started.stderr.strip()[-800:]}")
        self.url = started.stdout.strip().splitlines()[-1]
        self.ae_title = self._call("/system")["DicomAet"]

    def close(self) -> None:
        subprocess.run(["bash", str(SCRIPT), "stop"], env=self.env, capture_output=True, text=True)

    def store(self, files: list[Path], progress: Callable[[int, int], None]) -> list[str]:
        """Each file stored in Orthanc (`progress(bytes sent, total)` after each); their Orthanc instance ids."""
        total, sent, ids = sum(path.stat().st_size for path in files), 0, []
        for path in files:
            data = path.read_bytes()
            ids.append(self._call("/instances", data)["ID"])
            sent += len(data)
            progress(sent, total)
        return ids

    def send(self, instance_ids: list[str], ae_title: str, port: int) -> None:
        """C-STORE the instances to the SCP `ae_title` on 127.0.0.1:`port`, every one of them accepted, or PacsFailed."""
        self._call("/modalities/radlab", {"AET": ae_title, "Host": "127.0.0.1", "Port": port}, method="PUT")
        sent = self._call("/modalities/radlab/store", {"Resources": instance_ids, "Synchronous": True})
        if sent.get("InstancesCount") != len(instance_ids) or sent.get("FailedInstancesCount"):
            raise PacsFailed(f"Orthanc sent {sent.get('InstancesCount')} of {len(instance_ids)} instance(s) to "
                             f"{ae_title} on :{port}, {sent.get('FailedInstancesCount')} failed")

    def _call(self, path: str, body: dict | bytes | None = None, method: str | None = None):
        """Orthanc's REST API: JSON (or DICOM bytes) in, JSON out; an HTTP error becomes PacsFailed with its body."""
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method or ("POST" if data is not None else "GET"))
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                answer = response.read()
        except urllib.error.HTTPError as error:
            raise PacsFailed(f"Orthanc answered {error.code} to {path}: {error.read().decode('utf-8', 'replace')[:300]}") from error
        except OSError as error:
            raise PacsFailed(f"Orthanc at {self.url} did not answer {path}: {error}") from error
        return json.loads(answer) if answer else None
