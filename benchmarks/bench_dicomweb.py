"""DICOMweb transfer speed: WADO-RS download of the real CT and STOW-RS push of its files, against a local Orthanc.

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/bench_dicomweb.py [--repeat 3]`` (needs Debian ``orthanc`` and
``orthanc-dicomweb``; loopback only). Prints MB/s per repeat; it asserts nothing (speed is not a test).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import pydicom

from mhubio.dicomweb import Credentials, DicomwebLocation, connect, download_series, push_files
from tests.dicomweb.orthanc import PASSWORD, USER, start_orthanc
from tests.helpers import REAL_CT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="mhub-bench-dicomweb-"))
    server = start_orthanc(scratch / "orthanc")
    try:
        files = sorted(REAL_CT.glob("*.dcm"))
        megabytes = sum(p.stat().st_size for p in files) / 1e6
        client = connect(server.dicomweb, Credentials(USER, PASSWORD))
        start = time.perf_counter()
        records = push_files(client, REAL_CT, [p.name for p in files])
        pushed = time.perf_counter() - start
        assert all(r.ok for r in records), [r for r in records if not r.ok]
        print(f"push  {len(files)} files, {megabytes:.1f} MB: {pushed:.2f} s ({megabytes / pushed:.1f} MB/s, "
              "one STOW-RS request and one QIDO-RS check per file)")
        study = pydicom.dcmread(files[0], stop_before_pixels=True).StudyInstanceUID
        for run in range(args.repeat):
            start = time.perf_counter()
            result = download_series(client, DicomwebLocation(server.dicomweb, str(study)), scratch / f"dl{run}")
            seconds = time.perf_counter() - start
            print(f"download {result.series[0].instances} instances: {seconds:.2f} s ({megabytes / seconds:.1f} MB/s)")
    finally:
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
