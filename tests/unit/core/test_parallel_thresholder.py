"""The real thresholder model with ``mhub run --workers 2``: SEGs identical in content to the sequential run."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pydicom
import pytest

from mhubio.core.forking import can_fork
from mhubio.synthetic import write_ct_series
from tests.helpers import read_report, run_mhub, run_python

# Attributes a SEG encoder generates anew on every run (UIDs, creation times); everything else must match.
GENERATED = {
    "SOPInstanceUID", "SeriesInstanceUID", "MediaStorageSOPInstanceUID", "DimensionOrganizationUID", "TrackingUID",
    "InstanceCreationDate", "InstanceCreationTime", "ContentDate", "ContentTime", "SeriesDate", "SeriesTime",
    "ContributionDateTime",
}


def seg_content(path: Path) -> list[tuple[str, object]]:
    """Every attribute of a SEG (pixel data included) as (path, value), without the per-run generated ones."""
    dataset = pydicom.dcmread(path)
    found: list[tuple[str, object]] = []

    def walk(ds: pydicom.Dataset, prefix: str) -> None:
        for element in ds:
            if element.keyword in GENERATED:
                continue
            name = prefix + (element.keyword or str(element.tag))
            if element.VR == "SQ":
                for index, item in enumerate(element.value):
                    walk(item, f"{name}[{index}].")
            else:
                found.append((name, element.value))

    walk(dataset, "")
    return found


def comparable_report(report: dict) -> dict:
    """A run report without wall-clock values and per-run output checksums."""
    report = {k: v for k, v in report.items() if k not in ("started", "finished", "duration_s")}
    report["series"] = [
        {**s, "steps": [{"step": t["step"], "status": t["status"]} for t in s["steps"]],
         "outputs": [o["path"] for o in s["outputs"]]}
        for s in report["series"]
    ]
    return report


def write_ct_inputs(folder: Path, count: int) -> list[str]:
    """``count`` tiny generated CT series in ``folder``; returns their SeriesInstanceUIDs."""
    return [write_ct_series(folder / f"ct{seed}", shape=(10, 40, 40), seed=seed).series_uid
            for seed in range(count)]


def assert_same_segs(first: Path, second: Path, series_uids: list[str]) -> None:
    for uid in series_uids:
        ours, theirs = first / uid / "thresholder.seg.dcm", second / uid / "thresholder.seg.dcm"
        assert seg_content(ours) == seg_content(theirs), uid


def table_rows(output_dir: Path, table: str) -> list[dict]:
    """The rows of one cohort table, without the per-run values (UIDs of the SEGs, step seconds), sorted."""
    rows = pq.read_table(output_dir / "mhub_tables" / table).to_pylist()
    for row in rows:
        for key in ("SOPInstanceUID", "segmentationInstanceUID", "trackingUniqueIdentifier", "seconds", "steps"):
            row.pop(key, None)
    return sorted(rows, key=repr)


@pytest.mark.slow
def test_workers_give_the_sequential_segs(tmp_path):
    uids = write_ct_inputs(tmp_path / "in", 3)
    runs = {}
    for name, extra in {"seq": [], "par": ["--workers", "2"]}.items():
        out = tmp_path / name
        done = run_mhub("run", "--model", "thresholder", "--input", tmp_path / "in", "--output", out, *extra)
        assert done.returncode == 0, done.stdout
        runs[name] = read_report(out)
    assert comparable_report(runs["par"]) == comparable_report(runs["seq"])
    assert sorted(s["series_uid"] for s in runs["par"]["series"]) == sorted(uids)
    assert_same_segs(tmp_path / "seq", tmp_path / "par", uids)
    for table in ("series", "measurements"):  # the workers' rows equal the caller's
        assert table_rows(tmp_path / "par", table) == table_rows(tmp_path / "seq", table), table
    assert len(table_rows(tmp_path / "par", "measurements")) >= len(uids)


RUN_NOTING_TABLE_LOADS = """
import functools, os, sys
from pathlib import Path
from highdicom import _standard_utils, base, image
marks = Path(sys.argv[1])
load = _standard_utils.get_module_attribute_map.__wrapped__

@functools.lru_cache(1)
def noting_loads():
    (marks / f"load-{os.getpid()}").touch()
    return load()

for module in (_standard_utils, base, image):
    module.get_module_attribute_map = noting_loads
from mhubio.cli import main
print(os.getpid())
raise SystemExit(main(["run", "--model", "thresholder", "-i", sys.argv[2], "-o", sys.argv[3], "--workers", "2",
                       "--quiet"]))
"""


@pytest.mark.slow
@pytest.mark.skipif(not can_fork(), reason="workers are spawned on this platform")
def test_forked_workers_share_the_callers_highdicom_tables(tmp_path):
    """The SEG encoder's preload: highdicom's 22 MB table is read once, by the caller, not once per worker."""
    write_ct_inputs(tmp_path / "in", 2)
    marks = tmp_path / "marks"
    marks.mkdir()
    done = run_python(RUN_NOTING_TABLE_LOADS, marks, tmp_path / "in", tmp_path / "out")
    assert done.returncode == 0, done.stdout
    caller = done.stdout.split()[0]
    assert sorted(p.name for p in marks.iterdir()) == [f"load-{caller}"]
    assert len(list((tmp_path / "out").glob("*/thresholder.seg.dcm"))) == 2
