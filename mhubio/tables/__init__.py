"""Cohort tables: tidy Parquet tables of every run, queried with DuckDB.

Three tables, shaped after the Imaging Data Commons (IDC) ``quantitative_measurements`` and
``qualitative_measurements`` tables (coded columns are ``CodeValue``/``CodingSchemeDesignator``/``CodeMeaning``
structs, so IDC queries carry over):

- ``series``: one row per series and model (UIDs, modality, QC decision, status, step timings, model, version);
- ``measurements``: one row per numeric value (SEG segment volumes, TID 1500 features, BPR landmark positions);
- ``findings``: one row per coded result (BPR body part regions and landmarks per referenced slice, qualitative
  evaluations of TID 1500 SRs).

No names, IDs or dates are written.  Files: ``OUT_DIR/mhub_tables/<table>/<part>.parquet``, one part per model
(rewritten atomically at the end of each run) or ``rebuild`` (``mhub table OUT_DIR --rebuild``).
"""

from mhubio.tables.schema import TABLES, TableName

__all__ = ["TABLES", "TableName"]
