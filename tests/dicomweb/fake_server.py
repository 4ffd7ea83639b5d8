"""A scripted DICOMweb server on 127.0.0.1 (optionally HTTPS with a self-signed certificate) for transport tests."""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

Answer = tuple[int, str, bytes]
"""HTTP status, content type, body."""
Script = Callable[[str, str, int], Answer]
"""(method, path with query, number of earlier requests) -> answer."""


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """(certificate, key) for 127.0.0.1, made with the openssl command; skips the test without it."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


def dicom_json(body: object) -> Answer:
    """A 200 answer with a DICOM JSON body."""
    return 200, "application/dicom+json", json.dumps(body).encode()


@contextmanager
def fake_dicomweb(script: Script, tls: tuple[Path, Path] | None = None) -> Iterator[tuple[str, list[str]]]:
    """Serve ``script`` on a free loopback port; yields (DICOMweb root, log of "METHOD path" requests)."""
    requests_seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            elif self.headers.get("Transfer-Encoding") == "chunked":
                while (size := int(self.rfile.readline().strip() or b"0", 16)) > 0:
                    self.rfile.read(size + 2)
                self.rfile.readline()
            status, content_type, body = script(self.command, self.path, len(requests_seen))
            requests_seen.append(f"{self.command} {self.path}")
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    scheme = "http"
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*map(str, tls))
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}/dicom-web", requests_seen
    finally:
        server.shutdown()
        server.server_close()
