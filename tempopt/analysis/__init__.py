"""Reading finished (or running) studies: the verdict, importances, the report and the dashboard.

Nothing here writes to a study: the dashboard note (:func:`spec_note`) is saved by
``tempopt.study.workers.creation.refresh_note``, a report attached by ``tempopt.study.storage.artifacts.attach_file``.

One sub-package per concept, each re-exporting its private modules' names: ``trials`` (which
trials an analysis reads), ``verdict`` (did distillation help, and the best config),
``importance`` (which params matter), ``findings`` (everything the report says about a study),
``report`` (its files) and ``dashboard`` (optuna-dashboard and the study's note). Lower first:
``findings`` reads ``trials``, ``verdict`` and ``importance``; ``report`` renders ``findings``.

Each name is imported when first read (:mod:`tempopt.lazy_exports`): reading a verdict does
not import optuna-dashboard and the importance evaluators.
"""

from typing import TYPE_CHECKING

from tempopt.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from tempopt.analysis.dashboard import is_exposed, serve_dashboard, spec_note
    from tempopt.analysis.findings import (
        Bin,
        InteractionGrid,
        StudyAnalysis,
        TemperatureSensitivity,
        analyse_study,
        temperature_sensitivity,
    )
    from tempopt.analysis.importance import (
        EVALUATORS,
        MIN_TRIALS,
        Agreement,
        EvaluatorImportance,
        ImportanceAnalysis,
        ProgressCallback,
        Spread,
        compute_importances,
    )
    from tempopt.analysis.report import (
        ReportFigure,
        ReportFiles,
        check_report_folder,
        importance_to_json,
        render_html,
        render_markdown,
        report_figures,
        write_report,
    )
    from tempopt.analysis.trials import TrialCounts, TrialSummary, count_trials, log10_view, search_space
    from tempopt.analysis.verdict import (
        HELPED,
        HURT,
        NO_EVIDENCE,
        BestConfig,
        Figure,
        Side,
        Verdict,
        best_config,
        compute_verdict,
        member_verdicts,
        paired_interval,
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
        ".dashboard": ("is_exposed", "serve_dashboard", "spec_note"),
        ".findings": (
            "Bin",
            "InteractionGrid",
            "StudyAnalysis",
            "TemperatureSensitivity",
            "analyse_study",
            "temperature_sensitivity",
        ),
        ".importance": (
            "EVALUATORS",
            "MIN_TRIALS",
            "Agreement",
            "EvaluatorImportance",
            "ImportanceAnalysis",
            "ProgressCallback",
            "Spread",
            "compute_importances",
        ),
        ".report": (
            "ReportFigure",
            "ReportFiles",
            "check_report_folder",
            "importance_to_json",
            "render_html",
            "render_markdown",
            "report_figures",
            "write_report",
        ),
        ".trials": ("TrialCounts", "TrialSummary", "count_trials", "log10_view", "search_space"),
        ".verdict": (
            "HELPED",
            "HURT",
            "NO_EVIDENCE",
            "BestConfig",
            "Figure",
            "Side",
            "Verdict",
            "best_config",
            "compute_verdict",
            "member_verdicts",
            "paired_interval",
            "unverified_verdict",
        ),
        "tempopt.study.storage.opening": ("load_study as read_study", "open_existing_storage as read_storage"),
    },
)
