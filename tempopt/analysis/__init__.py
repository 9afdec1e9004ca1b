"""Reading finished (or running) studies: the verdict, importances, the report and the dashboard.

Nothing here writes to a study: the dashboard note (:func:`spec_note`) is saved by
``tempopt.study.workers.creation.refresh_note``, a report attached by ``tempopt.study.storage.artifacts.attach_file``.

Each name is imported when first read (:mod:`tempopt.lazy_exports`): reading a verdict does
not import optuna-dashboard and the importance evaluators.
"""

from typing import TYPE_CHECKING

from tempopt.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from tempopt.analysis._best import BestConfig, Figure, best_config
    from tempopt.analysis._dashboard import is_exposed, serve_dashboard, spec_note
    from tempopt.analysis._figures import ReportFigure, report_figures
    from tempopt.analysis._html import render_html
    from tempopt.analysis._importance import (
        EVALUATORS,
        MIN_TRIALS,
        Agreement,
        EvaluatorImportance,
        ImportanceAnalysis,
        ProgressCallback,
        Spread,
        compute_importances,
    )
    from tempopt.analysis._interval import paired_interval
    from tempopt.analysis._json import importance_to_json
    from tempopt.analysis._markdown import render_markdown
    from tempopt.analysis._report import ReportFiles, check_report_folder, write_report
    from tempopt.analysis._sensitivity import (
        Bin,
        InteractionGrid,
        TemperatureSensitivity,
        temperature_sensitivity,
    )
    from tempopt.analysis._study_analysis import StudyAnalysis, analyse_study
    from tempopt.analysis._trial_summary import TrialSummary
    from tempopt.analysis._trials import TrialCounts, count_trials, log10_view, search_space
    from tempopt.analysis._verdict import (
        HELPED,
        HURT,
        NO_EVIDENCE,
        Side,
        Verdict,
        compute_verdict,
        member_verdicts,
        unverified_verdict,
    )
    from tempopt.study.storage.opening import load_study as read_study
    from tempopt.study.storage.opening import open_existing_storage as read_storage

__all__ = [
    "EVALUATORS",
    "MIN_TRIALS",
    "Agreement",
    "BestConfig",
    "Bin",
    "EvaluatorImportance",
    "Figure",
    "ImportanceAnalysis",
    "InteractionGrid",
    "ProgressCallback",
    "ReportFigure",
    "ReportFiles",
    "HELPED",
    "HURT",
    "NO_EVIDENCE",
    "Side",
    "Spread",
    "StudyAnalysis",
    "TemperatureSensitivity",
    "TrialCounts",
    "TrialSummary",
    "Verdict",
    "analyse_study",
    "best_config",
    "compute_importances",
    "count_trials",
    "importance_to_json",
    "is_exposed",
    "compute_verdict",
    "member_verdicts",
    "unverified_verdict",
    "paired_interval",
    "log10_view",
    "read_storage",
    "read_study",
    "render_html",
    "render_markdown",
    "report_figures",
    "search_space",
    "serve_dashboard",
    "spec_note",
    "temperature_sensitivity",
    "write_report",
    "check_report_folder",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "._best": ("BestConfig", "Figure", "best_config"),
        "._dashboard": ("is_exposed", "serve_dashboard", "spec_note"),
        "._figures": ("ReportFigure", "report_figures"),
        "._html": ("render_html",),
        "._importance": (
            "EVALUATORS",
            "MIN_TRIALS",
            "Agreement",
            "EvaluatorImportance",
            "ImportanceAnalysis",
            "ProgressCallback",
            "Spread",
            "compute_importances",
        ),
        "._interval": ("paired_interval",),
        "._json": ("importance_to_json",),
        "._markdown": ("render_markdown",),
        "._report": ("ReportFiles", "check_report_folder", "write_report"),
        "._sensitivity": ("Bin", "InteractionGrid", "TemperatureSensitivity", "temperature_sensitivity"),
        "._study_analysis": ("StudyAnalysis", "analyse_study"),
        "._trial_summary": ("TrialSummary",),
        "._trials": ("TrialCounts", "count_trials", "log10_view", "search_space"),
        "._verdict": (
            "HELPED",
            "HURT",
            "NO_EVIDENCE",
            "Side",
            "Verdict",
            "compute_verdict",
            "member_verdicts",
            "unverified_verdict",
        ),
        "tempopt.study.storage.opening": ("load_study as read_study", "open_existing_storage as read_storage"),
    },
)
