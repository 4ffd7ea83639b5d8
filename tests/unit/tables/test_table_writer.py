"""Rows become Arrow tables of the tables' schemas exactly as ``pa.Table.from_pylist`` builds them, without pandas."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pytest

from mhubio.synthetic import write_ct_series
from mhubio.tables.schema import TABLES, TableName, code
from mhubio.tables.writer import arrow_table
from tests.helpers import run_python

SERIES_ROWS = [
    {"SeriesInstanceUID": "1.2.3", "Modality": "CT", "status": "done", "seconds": 0.1 + 0.2,
     "steps": [{"step": "convert", "status": "done", "seconds": 1e-300}, {"step": "seg", "status": "failed"}],
     "outputs": ["1.2.3/a.seg.dcm", "caf\u00e9 \U0001F600 \"quoted\" \\ back\nline"]},
    {"SeriesInstanceUID": "1.2.4", "seconds": None, "steps": [], "outputs": None, "not_a_column": {"x": 1}},
    {"SeriesInstanceUID": "1.2.5", "qc_reason": "x" * 3_000_000},
]


def _floats() -> list[float]:
    rng = np.random.default_rng(0)
    scale = 10.0 ** rng.integers(-300, 300, 5000)
    special = [0.0, -0.0, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 1 / 3, math.inf, -math.inf]
    return (rng.standard_normal(5000) * scale).tolist() + rng.random(5000).tolist() + special


def test_rows_give_the_table_from_pylist_gives():
    expected = pa.Table.from_pylist(SERIES_ROWS, schema=TABLES[TableName.SERIES])
    assert arrow_table(TableName.SERIES, SERIES_ROWS).equals(expected)


def test_measurement_values_round_trip_exactly():
    rows = [{"SeriesInstanceUID": "1", "segmentationSegmentNumber": index % 200, "value": value,
             "SegmentedPropertyType": code("10200004", "SCT", "Liver") if index % 2 else None}
            for index, value in enumerate(_floats())]
    table = arrow_table(TableName.MEASUREMENTS, rows)
    assert table.equals(pa.Table.from_pylist(rows, schema=TABLES[TableName.MEASUREMENTS]))
    assert [repr(v) for v in table.column("value").to_pylist()] == [repr(row["value"]) for row in rows]  # -0.0
    nan = arrow_table(TableName.MEASUREMENTS, [{"value": math.nan}])  # Table.equals holds NaN unequal to itself
    assert math.isnan(nan.column("value")[0].as_py())


def test_numpy_scalars_are_numbers_and_other_objects_an_error():
    rows = [{"SeriesInstanceUID": "1", "segmentationSegmentNumber": np.int64(3), "value": np.float32(0.5)}]
    assert arrow_table(TableName.MEASUREMENTS, rows).to_pylist()[0]["segmentationSegmentNumber"] == 3
    with pytest.raises(TypeError, match="set"):
        arrow_table(TableName.MEASUREMENTS, [{"SeriesInstanceUID": {"1"}}])


def test_no_rows_give_an_empty_table_of_the_schema():
    for table in TableName:
        empty = arrow_table(table, [])
        assert empty.num_rows == 0 and empty.schema.equals(TABLES[table])


@pytest.mark.slow
def test_a_run_writes_its_tables_without_importing_pandas(tmp_path):
    """pyarrow imports pandas (installed here for nnU-Net) as soon as it converts Python objects: 0.25 s a run."""
    write_ct_series(tmp_path / "in" / "ct", shape=(12, 24, 24))
    code_ = (
        "import json, sys\n"
        "from mhubio.cli import main\n"
        f"code = main(['run', '--model', 'thresholder', '-i', {str(tmp_path / 'in')!r}, '-o', "
        f"{str(tmp_path / 'out')!r}, '--quiet'])\n"
        "print(json.dumps([code, 'pandas' in sys.modules]))\n"
    )
    done = run_python(code_)
    assert done.returncode == 0, done.stdout
    assert json.loads(done.stdout.splitlines()[-1]) == [0, False]
    assert (tmp_path / "out" / "mhub_tables" / "measurements").is_dir()
