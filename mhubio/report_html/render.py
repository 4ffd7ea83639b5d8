"""Rendering ``mhub_report.html`` from the cohort tables with DuckDB aggregates (bounded work per cohort size)."""

from __future__ import annotations

import json
from collections.abc import Set as AbstractSet
from html import escape
from pathlib import Path
from typing import Any

from mhubio import __version__
from mhubio.cohort.layout import REPORT_HTML_NAME
from mhubio.core.fileio import atomic_path
from mhubio.report_html.svg import bar_chart, histogram
from mhubio.tables.query import connect

HISTOGRAM_BINS = 20
SERIES_LISTED = 2000
"""At most this many series are listed with links (failed ones first); the tables hold all of them."""

_STYLE = """
body{font:14px system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
svg text{font:11px sans-serif;fill:#333}svg rect{fill:#4a78b5}.hist rect{fill:#6a9fd8}
.failed{color:#b00}.muted{color:#777}
"""


def write_html_report(output_dir: Path) -> Path:
    """Write ``OUT_DIR/mhub_report.html`` atomically and return its path."""
    output_dir = Path(output_dir)
    target = output_dir / REPORT_HTML_NAME
    with atomic_path(target) as tmp:
        tmp.write_text(render(output_dir), encoding="utf-8")
    return target


def render(output_dir: Path) -> str:
    """The report as one HTML document (inline CSS and SVG, no scripts, no network)."""
    with connect(output_dir) as con:
        sections = [
            _status_section(con), _qc_section(con), _timing_section(con), _measurement_section(con),
            _series_section(con),
        ]
    run = _last_run(output_dir)
    title = "MHub cohort report"
    head = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f'<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'">'
            f"<style>{_STYLE}</style></head><body><h1>{title}</h1>")
    subtitle = f'<p class="muted">mhubio {escape(__version__)}{run}</p>'
    return head + subtitle + "".join(sections) + "</body></html>\n"


def _last_run(output_dir: Path) -> str:
    try:
        report = json.loads((output_dir / "mhub_report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    model = report.get("model", {})
    return (f"; last run: {escape(str(model.get('name', '?')))} {escape(str(model.get('version', '')))} "
            f"({escape(str(model.get('workflow', '')))}), exit {escape(str(report.get('exit_code', '?')))} "
            f"(<a href=\"mhub_report.json\">mhub_report.json</a>)")


def _table(header: list[str], rows: list[tuple[Any, ...]], numeric: AbstractSet[int] = frozenset()) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(
            f'<td class="n">{_cell(v)}</td>' if i in numeric else f"<td>{_cell(v)}</td>" for i, v in enumerate(row)
        ) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return escape(str(value))


def _status_section(con: Any) -> str:
    rows = con.execute("SELECT model, status, count(*) FROM series GROUP BY ALL ORDER BY model, status").fetchall()
    chart = bar_chart([f"{m}: {s}" for m, s, _ in rows], [n for *_, n in rows])
    return "<h2>Series by status</h2>" + (chart + _table(["model", "status", "series"], rows, {2})
                                          if rows else "<p>No series in the tables.</p>")


def _qc_section(con: Any) -> str:
    rows = con.execute(
        "SELECT qc_check, count(DISTINCT SeriesInstanceUID) FROM series WHERE qc_decision = 'rejected' "
        "GROUP BY ALL ORDER BY 2 DESC, 1"
    ).fetchall()
    if not rows:
        return "<h2>QC rejections by check</h2><p>No series was rejected.</p>"
    return ("<h2>QC rejections by check</h2>" + bar_chart([c for c, _ in rows], [n for _, n in rows])
            + _table(["check", "series"], rows, {1}))


def _timing_section(con: Any) -> str:
    rows = con.execute(
        "SELECT model, s.step, count(*), avg(s.seconds), quantile_cont(s.seconds, 0.5), max(s.seconds), "
        "sum(s.seconds) FROM (SELECT model, unnest(steps) AS s FROM series) WHERE s.status = 'done' "
        "GROUP BY ALL ORDER BY model, min(s.seconds) IS NULL, 1"
    ).fetchall()
    if not rows:
        return "<h2>Time per step</h2><p>No step timings.</p>"
    chart = bar_chart([f"{m}: {s}" for m, s, *_ in rows], [r[3] for r in rows])
    return ("<h2>Time per step</h2><p>Mean seconds per series.</p>" + chart
            + _table(["model", "step", "series", "mean s", "median s", "max s", "total s"], rows, {2, 3, 4, 5, 6}))


def _measurement_section(con: Any) -> str:
    groups = con.execute(
        f"""
        WITH m AS (
            SELECT model, coalesce(SegmentLabel, SegmentedPropertyType.CodeMeaning, findingSite.CodeMeaning,
                                   trackingIdentifier, '') AS segment,
                   Quantity.CodeMeaning AS quantity, coalesce(Units.CodeValue, '') AS unit, value
            FROM measurements WHERE isfinite(value)
        ), r AS (
            SELECT model, segment, quantity, unit, count(*) AS n, avg(value) AS mean, min(value) AS lo,
                   max(value) AS hi FROM m GROUP BY ALL
        ), b AS (
            SELECT m.model, m.segment, m.quantity, m.unit,
                   CASE WHEN r.hi = r.lo THEN 0
                        ELSE least({HISTOGRAM_BINS} - 1, floor((value - r.lo) / (r.hi - r.lo) * {HISTOGRAM_BINS}))
                   END::INTEGER AS bin, count(*) AS c
            FROM m JOIN r USING (model, segment, quantity, unit) GROUP BY ALL
        )
        SELECT r.model, r.segment, r.quantity, r.unit, r.n, r.mean, r.lo, r.hi,
               list(struct_pack(bin := b.bin, c := b.c))
        FROM r JOIN b USING (model, segment, quantity, unit) GROUP BY ALL ORDER BY 1, 2, 3
        """
    ).fetchall()
    if not groups:
        return "<h2>Measurements</h2><p>No measurements.</p>"
    rows = []
    for model, segment, quantity, unit, n, mean, lo, hi, bins in groups:
        counts = [0] * HISTOGRAM_BINS
        for entry in bins:
            counts[entry["bin"]] += entry["c"]
        rows.append(f"<tr><td>{escape(model)}</td><td>{escape(segment)}</td><td>{escape(quantity)}</td>"
                    f"<td>{escape(unit)}</td><td class=\"n\">{n}</td><td class=\"n\">{_cell(float(mean))}</td>"
                    f"<td>{histogram(counts, lo, hi)}</td></tr>")
    return ("<h2>Measurements per segment</h2><p>Distribution over the series of the cohort (min to max).</p>"
            "<table><tr><th>model</th><th>segment</th><th>quantity</th><th>unit</th><th>series values</th>"
            "<th>mean</th><th>distribution</th></tr>" + "".join(rows) + "</table>")


def _series_section(con: Any) -> str:
    total = con.execute("SELECT count(*) FROM series").fetchone()[0]
    rows = con.execute(
        f"SELECT SeriesInstanceUID, Modality, model, status, failed_step, qc_reason, seconds, outputs FROM series "
        f"ORDER BY status = 'done', status, SeriesInstanceUID, model LIMIT {SERIES_LISTED}"
    ).fetchall()
    body = []
    for uid, modality, model, status, failed_step, qc_reason, seconds, outputs in rows:
        links = " ".join(f'<a href="{escape(o, quote=True)}">{escape(Path(o).name)}</a>' for o in outputs or [])
        note = failed_step or qc_reason or ""
        css = ' class="failed"' if status == "failed" else ""
        body.append(f"<tr><td>{escape(uid)}</td><td>{_cell(modality)}</td><td>{escape(model)}</td>"
                    f"<td{css}>{escape(status)}</td><td>{_cell(note)}</td><td class=\"n\">{_cell(seconds)}</td>"
                    f"<td>{links}</td></tr>")
    more = f'<p class="muted">{total - len(rows)} more series in the tables.</p>' if total > len(rows) else ""
    return ("<h2>Series</h2><table><tr><th>SeriesInstanceUID</th><th>modality</th><th>model</th><th>status</th>"
            "<th>failed step / QC reason</th><th>seconds</th><th>outputs</th></tr>" + "".join(body) + "</table>" + more)
