"""The OHIF viewer for tests: its built site (npm ``@ohif/app``) served beside a DICOMweb proxy, shot by Chromium.

Orthanc sends no CORS headers, so the site and ``/dicom-web`` share one loopback origin: this server serves the site
with the cross-origin isolation headers OHIF needs and forwards ``/dicom-web/*`` to Orthanc with the credentials
(the browser never sees them). See /work/shared/design/VIEWER-TESTING.md for the recipe.
"""

from __future__ import annotations

import fcntl
import json
import mimetypes
import shutil
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from tests.helpers import REPO

OHIF_VERSION = "3.13.2"
PUPPETEER_VERSION = "25.19.0"
CACHE = REPO / ".cache" / "ohif"
"""npm downloads (gitignored); .ci/run fills it before the tests."""
SITE = CACHE / "package" / "dist"
SCREENSHOT_SCRIPT = Path(__file__).with_name("screenshot.mjs")
_ISOLATION = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def chromium() -> str:
    """Path of the Debian chromium; skips the test without it."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return found


def ensure_ohif() -> Path:
    """The OHIF site and puppeteer-core, fetched by npm into :data:`CACHE` once; skips the test without npm/node.

    A marker file is written only after both are complete, so an interrupted fetch is redone.
    """
    ready = CACHE / f".ready-ohif-{OHIF_VERSION}-puppeteer-{PUPPETEER_VERSION}"
    if ready.is_file():
        return SITE
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        pytest.skip("npm and node are needed to fetch the OHIF viewer (@ohif/app) and puppeteer-core")
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if ready.is_file():
            return SITE
        shutil.rmtree(CACHE / "package", ignore_errors=True)
        npm_options = ["--cache", str(CACHE / "npm-cache"), "--no-audit", "--no-fund"]
        subprocess.run([npm, "pack", f"@ohif/app@{OHIF_VERSION}", "--silent", *npm_options], cwd=CACHE, check=True,
                       capture_output=True, timeout=600)
        with tarfile.open(CACHE / f"ohif-app-{OHIF_VERSION}.tgz") as archive:
            members = [m for m in archive.getmembers() if m.name.startswith("package/dist/")]
            archive.extractall(CACHE, members=members, filter="data")
        subprocess.run([npm, "install", "--no-save", *npm_options, "--prefix", str(CACHE),
                        f"puppeteer-core@{PUPPETEER_VERSION}"], check=True, capture_output=True, timeout=600)
        ready.touch()
    return SITE


def app_config(origin: str) -> str:
    """OHIF's ``app-config.js`` with one DICOMweb data source on this origin."""
    root = f"{origin}/dicom-web"
    source = {
        "namespace": "@ohif/extension-default.dataSourcesModule.dicomweb", "sourceName": "orthanc",
        "configuration": {
            "friendlyName": "Orthanc (test)", "name": "orthanc", "wadoUriRoot": root, "qidoRoot": root,
            "wadoRoot": root, "qidoSupportsIncludeField": False, "imageRendering": "wadors",
            "thumbnailRendering": "wadors", "enableStudyLazyLoad": True, "supportsFuzzyMatching": False,
            "supportsWildcard": True, "staticWado": False, "singlepart": "bulkdata,video",
            "bulkDataURI": {"enabled": True, "relativeResolution": "studies"},
        },
    }
    config = {
        "routerBasename": "/", "extensions": [], "modes": [], "showStudyList": True, "maxNumberOfWebWorkers": 2,
        "showWarningMessageForCrossOrigin": False, "showCPUFallbackMessage": False, "showLoadingIndicator": True,
        "strictZSpacingForVolumeViewport": True, "defaultDataSourceName": "orthanc", "dataSources": [source],
    }
    return f"window.config = {json.dumps(config)};\n"


@contextmanager
def serve_viewer(site: Path, dicomweb_root: str, auth: tuple[str, str]) -> Iterator[str]:
    """Serve ``site`` and proxy ``/dicom-web`` to ``dicomweb_root`` on a free loopback port; yields the origin."""
    upstream = requests.Session()
    upstream.auth = auth
    state: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path.startswith("/dicom-web/"):
                self._proxy()
            elif path == "/app-config.js":
                self._send(200, "application/javascript", state["config"].encode())
            else:
                file = (site / path.lstrip("/")).resolve()
                if not file.is_file() or site.resolve() not in file.parents:
                    file = site / "index.html"
                kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
                if file.suffix == ".wasm":
                    kind = "application/wasm"
                self._send(200, kind, file.read_bytes())

        def _proxy(self) -> None:
            url = dicomweb_root + self.path[len("/dicom-web"):]
            headers = {"Accept": self.headers.get("Accept", "*/*")}
            answer = upstream.get(url, headers=headers, timeout=120)
            self._send(answer.status_code, answer.headers.get("Content-Type", "application/octet-stream"),
                       answer.content)

        def _send(self, status: int, kind: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            for name, value in _ISOLATION.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    state["config"] = app_config(origin)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield origin
    finally:
        server.shutdown()
        server.server_close()
        upstream.close()


def screenshot(url: str, png: Path, timeout_s: int = 150) -> dict:
    """Open ``url`` in headless Chromium, accept OHIF's "open this segmentation?" prompt, wait, save ``png``.

    Returns what the script measured: the viewport canvas rectangle in screenshot pixels and the prompt it clicked.
    """
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    done = subprocess.run(
        [node, str(SCREENSHOT_SCRIPT), chromium(), url, str(png)], cwd=CACHE, capture_output=True, text=True,
        timeout=timeout_s, check=False,
        env={"NODE_PATH": str(CACHE / "node_modules"), "PATH": "/usr/bin:/bin", "HOME": str(CACHE)},
    )
    if done.returncode != 0:
        output = f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        raise AssertionError(f"screenshot script failed ({done.returncode}):\n{output}")
    return json.loads(done.stdout.strip().splitlines()[-1])
