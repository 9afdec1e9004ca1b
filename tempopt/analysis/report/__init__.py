"""The report of a study: ``report.html`` (with its plotly figures), ``report.md``,
``importance.json`` and ``verdict.json``, rendered from a :class:`~tempopt.analysis.StudyAnalysis`
and written into one folder."""

from tempopt.analysis.report._figures import ReportFigure, report_figures
from tempopt.analysis.report._html import render_html
from tempopt.analysis.report._json import importance_to_json
from tempopt.analysis.report._markdown import render_markdown
from tempopt.analysis.report._report import ReportFiles, check_report_folder, write_report

__all__ = [
    "ReportFigure",
    "ReportFiles",
    "check_report_folder",
    "importance_to_json",
    "render_html",
    "render_markdown",
    "report_figures",
    "write_report",
]
