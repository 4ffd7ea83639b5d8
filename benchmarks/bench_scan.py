"""Header scan throughput: files indexed per second by ``scan_folder``, on one process and on the usable cores.

Run: ``.venv/bin/python benchmarks/bench_scan.py [--series 10] [--slices 120] [--size 256] [--input FOLDER]
[--repeat 3]``.
Scans generated CT series (or ``--input``, a folder of DICOM files such as ``../shared/data/pancreas-ct-cb001``)
with the header values decoded as the scan does (plain values from their bytes, the rest by pydicom), and with
every value converted by pydicom as before :mod:`mhubio.dicom.plainvalues`; the variants alternate, and the
table shows the fastest of ``--repeat`` scans of each with the time per file. The files are read once before
timing, so that the page cache holds them (a first scan from disk adds the disk's time). Then one more scan on
each process count, traced by :mod:`tracemalloc`, gives the memory the index holds per file (the whole input's
index stays in memory until the run ends). Asserts nothing.
"""

from __future__ import annotations

import argparse
import gc
import os
import tempfile
import time
import tracemalloc
from contextlib import ExitStack
from pathlib import Path
from unittest import mock

from mhubio.core.threads import usable_cores
from mhubio.dicom import scan
from mhubio.dicom.plainvalues import Undecoded
from mhubio.synthetic import write_ct_series

PLAIN_DECODERS = ("plain_text", "plain_strings", "plain_integer", "plain_floats")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10)
    parser.add_argument("--slices", type=int, default=120)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--input", type=Path, help="scan this folder instead of generated series")
    parser.add_argument("--repeat", type=int, default=3, help="scans of each variant; the fastest is shown")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mhub-bench-scan-") as tmp:
        root = args.input or Path(tmp)
        if args.input is None:
            for seed in range(args.series):
                write_ct_series(root / f"ct{seed}", shape=(args.slices, args.size, args.size), seed=seed)
        files = [path for path in root.rglob("*") if path.is_file()]
        for path in files:
            path.read_bytes()
        cores = usable_cores()
        variants = [(values, processes) for values in ("plain", "pydicom") for processes in sorted({1, cores})]
        best: dict[tuple[str, int], tuple[float, int]] = {}
        for _ in range(args.repeat):
            for values, processes in variants:
                seconds, indexed = _timed_scan(root, processes, pydicom_values=values == "pydicom")
                best[values, processes] = min(best.get((values, processes), (float("inf"), 0)), (seconds, indexed))
        held = {processes: _index_bytes(root, processes) for processes in sorted({1, cores})}
    source = str(args.input) if args.input else f"{args.series} series of {args.slices}x{args.size}x{args.size}"
    print(f"scan of {len(files)} files ({source}), {cores} usable cores, load average {os.getloadavg()[0]:.1f}")
    print(f"{'values':>8} {'processes':>9} {'seconds':>8} {'files/s':>8} {'ms/file':>8} {'indexed':>8}")
    for (values, processes), (seconds, indexed) in best.items():
        print(f"{values:>8} {processes:>9} {seconds:>8.3f} {len(files) / seconds:>8.0f} "
              f"{1000 * seconds / len(files):>8.3f} {indexed:>8}")
    for processes in sorted({1, cores}):
        gain = best["pydicom", processes][0] / best["plain", processes][0]
        print(f"{processes} process(es): plain values scan {gain:.2f}x as fast as pydicom's conversion")
    print("index memory per file: " + ", ".join(
        f"{size / len(files):.0f} B ({processes} process(es))" for processes, size in held.items()))


def _undecoded(*args: object) -> None:
    """Every value left to pydicom, as before the plain decoding (a plain function: a mock's call costs more)."""
    raise Undecoded


def _timed_scan(root: Path, processes: int, pydicom_values: bool) -> tuple[float, int]:
    """Seconds of one :func:`~mhubio.dicom.scan.scan_folder` and the instances it indexed."""
    with ExitStack() as stack:
        if pydicom_values:
            for name in PLAIN_DECODERS:
                stack.enter_context(mock.patch.object(scan, name, _undecoded))
        start = time.perf_counter()
        result = scan.scan_folder(root, processes=processes)
        return time.perf_counter() - start, result.n_instances


def _index_bytes(root: Path, processes: int) -> int:
    """Bytes that the result of one scan holds (allocated during the scan and still alive after it)."""
    gc.collect()
    tracemalloc.start()
    try:
        result = scan.scan_folder(root, processes=processes)
        gc.collect()
        size = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del result
    return size


if __name__ == "__main__":
    main()
