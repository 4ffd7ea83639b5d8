"""A throwaway Orthanc server with its DICOMweb plugin for tests: loopback only, free port, authentication on."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

PLUGIN_DIRS = (Path("/usr/share/orthanc/plugins"), Path("/usr/lib/orthanc"))
USER, PASSWORD = "mhub-test", "not-a-secret-0"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dicomweb_plugin() -> Path | None:
    """The installed Orthanc DICOMweb plugin (Debian ``orthanc-dicomweb``), if any."""
    for folder in PLUGIN_DIRS:
        found = sorted(folder.glob("libOrthancDicomWeb.so*")) if folder.is_dir() else []
        if found:
            return found[0]
    return None


@dataclass
class Orthanc:
    """A running Orthanc: its DICOMweb root and the REST API, with the test credentials."""

    port: int
    folder: Path
    process: subprocess.Popen = field(repr=False)

    @property
    def url(self) -> str:
        """HTTP root of the server."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def dicomweb(self) -> str:
        """DICOMweb service root."""
        return f"{self.url}/dicom-web"

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of an ``mhub`` run with this server's credentials."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("MHUB_DICOMWEB_")}
        return {**env, "MHUB_DICOMWEB_USER": USER, "MHUB_DICOMWEB_PASSWORD": PASSWORD, **extra}

    def upload(self, files: list[Path]) -> None:
        """Store files through the REST API (not DICOMweb, so that the code under test is not the loader)."""
        with requests.Session() as session:
            session.auth = (USER, PASSWORD)
            for path in files:
                session.post(f"{self.url}/instances", data=path.read_bytes(), timeout=30).raise_for_status()

    def instances(self) -> list[str]:
        """Orthanc ids of every stored instance."""
        return requests.get(f"{self.url}/instances", auth=(USER, PASSWORD), timeout=30).json()

    def find(self, sop_instance_uid: str) -> str:
        """Orthanc id of the instance with this SOPInstanceUID."""
        found = requests.post(f"{self.url}/tools/lookup", data=sop_instance_uid, auth=(USER, PASSWORD), timeout=30)
        (match,) = [m for m in found.json() if m["Type"] == "Instance"]
        return match["ID"]

    def file(self, sop_instance_uid: str) -> bytes:
        """The stored DICOM file of an instance, as Orthanc keeps it."""
        url = f"{self.url}/instances/{self.find(sop_instance_uid)}/file"
        return requests.get(url, auth=(USER, PASSWORD), timeout=30).content

    def break_instance(self, sop_instance_uid: str) -> None:
        """Delete the stored file of an instance behind Orthanc's back: retrieving its series then fails."""
        url = f"{self.url}/instances/{self.find(sop_instance_uid)}/attachments/dicom/info"
        uuid = requests.get(url, auth=(USER, PASSWORD), timeout=30).json()["Uuid"]
        (self.folder / "storage" / uuid[:2] / uuid[2:4] / uuid).unlink()

    def stop(self) -> None:
        """Stop the server (by its PID) and wait for it."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_orthanc(folder: Path, lua: str | None = None) -> Orthanc:
    """Start Orthanc with DICOMweb in ``folder`` (storage, config, log); skips the test when it is not installed.

    ``lua`` is an optional Lua script (e.g. a ``ReceivedInstanceFilter`` that rejects some instances).
    """
    binary, plugin = shutil.which("Orthanc"), dicomweb_plugin()
    if binary is None or plugin is None:
        pytest.skip("Orthanc with its DICOMweb plugin is not installed (apt-get install orthanc orthanc-dicomweb)")
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = {
        "Name": "mhub-test", "HttpPort": port, "RemoteAccessAllowed": False, "DicomServerEnabled": False,
        "StorageDirectory": str(folder / "storage"), "IndexDirectory": str(folder / "index"),
        "AuthenticationEnabled": True, "RegisteredUsers": {USER: PASSWORD},
        "Plugins": [str(plugin)], "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        "HttpServerThreads": 8, "StableAge": 1, "MaximumStorageCacheSize": 0,
    }
    if lua is not None:
        (folder / "filter.lua").write_text(lua)
        config["LuaScripts"] = [str(folder / "filter.lua")]
    (folder / "orthanc.json").write_text(json.dumps(config))
    with open(folder / "orthanc.log", "wb") as log:
        process = subprocess.Popen([binary, str(folder / "orthanc.json")], stdout=log, stderr=subprocess.STDOUT)
    server = Orthanc(port, folder, process)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log_tail = (folder / "orthanc.log").read_text()[-2000:]
            raise RuntimeError(f"Orthanc exited with {process.returncode}: {log_tail}")
        try:
            if requests.get(f"{server.url}/system", auth=(USER, PASSWORD), timeout=2).ok:
                return server
        except requests.ConnectionError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError("Orthanc did not start within 30 s")
