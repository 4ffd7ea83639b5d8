"""Per-series cost of one `mhub run` over a batch versus one `mhub run` per series (demo nnU-Net model).

The batch run loads the model once and keeps the interpreter, imports and model across series; one process per
series pays all of that every time. Inference time per series comes from the runner's log line
("inference X s") in each series log, the load time from its "loaded ... in X s" line; "rest" is everything
else (interpreter start, imports, DICOM import, conversion, SEG encoding, organizing, report).

Usage::

    python benchmarks/bench_batch.py [--series 10] [--shape 40 96 96] [--work DIR]

Prints a table; it asserts nothing about time (the target is a ratio of at least 3 between the per-series
overhead of one process per series and that of the batch).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mhubio.synthetic import write_ct_series  # noqa: E402

LOADED = re.compile(r"loaded .* in ([0-9.]+) s")
INFERENCE = re.compile(r"inference ([0-9.]+) s")


@dataclass(frozen=True)
class RunTimes:
    """Timings of one `mhub run` process."""

    wall: float
    series: int
    load: float
    inference: float

    @property
    def rest(self) -> float:
        """Everything but model load and inference."""
        return self.wall - self.load - self.inference


def _mhub_run(input_dir: Path, output_dir: Path) -> RunTimes:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "mhubio", "run", "--model", "demo_nnunet", "--input",
                           str(input_dir), "--output", str(output_dir), "--quiet"],
                          cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"mhub run failed ({done.returncode}):\n{done.stdout}")
    logs = [p.read_text() for p in sorted((output_dir / "mhub_logs").glob("*.log"))]
    load = sum(float(m) for text in logs for m in LOADED.findall(text))
    inference = sum(float(m) for text in logs for m in INFERENCE.findall(text))
    return RunTimes(wall, len(logs), load, inference)


def main() -> int:
    """Generate the series, run both ways, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10)
    parser.add_argument("--shape", type=int, nargs=3, default=(40, 96, 96), metavar=("SLICES", "ROWS", "COLUMNS"))
    parser.add_argument("--work", type=Path, help="scratch folder (default: a new temporary one)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="mhub-bench-batch-"))
    inputs = []
    for index in range(args.series):
        series = write_ct_series(work / "in" / f"series_{index:02d}", shape=tuple(args.shape), seed=100 + index,
                                 patient_id=f"MHUB-DEMO-{index + 1:04d}")
        inputs.append(series.directory)
    batch = _mhub_run(work / "in", work / "out_batch")
    singles = [_mhub_run(path, work / f"out_{index:02d}") for index, path in enumerate(inputs)]
    n = args.series
    one = RunTimes(sum(s.wall for s in singles), sum(s.series for s in singles), sum(s.load for s in singles),
                   sum(s.inference for s in singles))
    print(f"demo_nnunet, {n} CT series of {args.shape[0]}x{args.shape[1]}x{args.shape[2]} voxels, CPU")
    print(f"{'per series (s)':34s} {'total':>8s} {'load':>8s} {'inference':>10s} {'rest':>8s} {'overhead':>9s}")
    for name, times in ((f"one run over {n} series", batch), ("one run per series", one)):
        overhead = (times.wall - times.inference) / n
        print(f"{name:34s} {times.wall / n:8.2f} {times.load / n:8.2f} {times.inference / n:10.2f} "
              f"{times.rest / n:8.2f} {overhead:9.2f}")
    ratio = ((one.wall - one.inference) / n) / ((batch.wall - batch.inference) / n)
    print(f"overhead = total - inference; ratio one-per-series / batch = {ratio:.1f} (target >= 3)")
    print(f"model loads: batch {batch.load:.2f} s once; one per series {one.load / n:.2f} s each")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
