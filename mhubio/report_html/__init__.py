"""``OUT_DIR/mhub_report.html``: a single static, offline cohort report drawn from the cohort tables."""

from mhubio.report_html.render import REPORT_HTML_NAME, write_html_report

__all__ = ["REPORT_HTML_NAME", "write_html_report"]
