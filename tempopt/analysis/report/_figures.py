"""The plotly figures of ``report.html``, one function per figure.

Optuna's own plots are used where they already do the right thing (history, slices with log
axes for log params, contour, parallel coordinates); the importance bars with error bars, the
intermediate values coloured by state and the per-worker timeline are drawn here.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import optuna
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from optuna.trial import TrialState

from tempopt.analysis.findings._front import accuracy_view
from tempopt.analysis.findings._study_analysis import StudyAnalysis
from tempopt.analysis.importance._evaluators import EVALUATOR_LABELS, ProgressCallback
from tempopt.analysis.trials._trials import KD_WEIGHT, TEMPERATURE
from tempopt.study.search.metrics import is_multi
from tempopt.timestamps import local_now

STATE_COLOURS = {
    "COMPLETE": "#1f77b4",
    "PRUNED": "#d62728",
    "FAIL": "#7f7f7f",
    "RUNNING": "#2ca02c",
    "WAITING": "#bcbd22",
}
HEIGHT = 460


@dataclass(frozen=True)
class ReportFigure:
    """One section of the HTML report: a figure, or the reason it is missing."""

    key: str
    title: str
    caption: str
    figure: go.Figure | None
    missing: str | None = None


def report_figures(
    study: optuna.Study, analysis: StudyAnalysis, progress: ProgressCallback | None = None
) -> list[ReportFigure]:
    """Every figure of the report, in reading order."""
    builders: list[Callable[[optuna.Study, StudyAnalysis], ReportFigure]] = [
        history,
        importances,
        temperature_profile,
        slices,
        contour,
        intermediate_values,
        timeline,
        parallel,
    ]
    front = study if is_multi(study) else None
    study = accuracy_view(study)
    if front is not None:
        builders.insert(0, lambda _s, a: pareto(front, a))
    figures = []
    for i, build in enumerate(builders, 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            figures.append(build(study, analysis))
        if progress is not None:
            progress("figures", i, len(builders))
    return figures


def pareto(study: optuna.Study, a: StudyAnalysis) -> ReportFigure:
    """A multi-objective study's trials, accuracy against cost, the front highlighted."""
    fig = optuna.visualization.plot_pareto_front(study, target_names=["val accuracy", a.cost])
    return ReportFigure(
        "pareto",
        "Pareto front",
        f"Val accuracy against {a.cost}; the front is what `tempopt export --pareto` writes (its distilled members).",
        _sized(fig),
    )


def history(study: optuna.Study, a: StudyAnalysis) -> ReportFigure:
    """Optimisation history, with the baseline and the teacher as horizontal lines."""
    title, caption = "Optimisation history", "Value of every complete trial and the best so far."
    if not a.counts.complete:
        return ReportFigure("history", title, caption, None, "no complete trials")
    fig = optuna.visualization.plot_optimization_history(study, target_name="accuracy")
    if a.best_baseline is not None:
        fig.add_hline(
            y=a.best_baseline.value, line_dash="dash", line_color="#ff7f0e", annotation_text="baseline (kd_weight = 0)"
        )
    if a.teacher_accuracy is not None:
        fig.add_hline(y=a.teacher_accuracy, line_dash="dot", line_color="#2ca02c", annotation_text="teacher")
    return ReportFigure("history", title, caption, _sized(fig))


def importances(study: optuna.Study, a: StudyAnalysis) -> ReportFigure:
    """Importances of every evaluator, error bars = std over bootstrap resamples."""
    imp = a.importances
    title = "Parameter importances"
    caption = (
        f"Normalised importances from {imp.n_trials} complete trials; error bars: std over "
        f"{imp.n_bootstrap} bootstrap resamples."
    )
    if not imp.ok:
        return ReportFigure("importances", title, caption, None, imp.reason)
    params = imp.params
    fig = go.Figure()
    for name, e in imp.evaluators.items():
        fig.add_bar(
            name=EVALUATOR_LABELS.get(name, name),
            x=params,
            y=[e.importances.get(p, 0.0) for p in params],
            error_y=dict(type="data", array=[e.stability[p].std if p in e.stability else 0.0 for p in params]),
        )
    fig.update_layout(barmode="group", yaxis_title="importance (sums to 1)", yaxis_range=[0, 1.05])
    return ReportFigure("importances", title, caption, _sized(fig))


def temperature_profile(study: optuna.Study, a: StudyAnalysis) -> ReportFigure:
    """Mean ± std and best value per log-spaced temperature bin (kd_weight > 0 only)."""
    ts = a.temperature
    title = "Accuracy against temperature"
    caption = (
        f"Distilled trials (kd_weight > 0, {ts.n_trials}) binned on a log scale of T: "
        "mean ± std per bin and the best trial of each bin."
    )
    if ts.reason:
        return ReportFigure("temperature", title, caption, None, ts.reason)
    full = [b for b in ts.bins if b.count]
    fig = go.Figure()
    fig.add_scatter(
        x=[b.centre for b in full],
        y=[b.mean for b in full],
        name="mean",
        mode="lines+markers",
        customdata=[[b.low, b.high, b.count] for b in full],
        error_y=dict(type="data", array=[b.std or 0.0 for b in full]),
        hovertemplate="T %{customdata[0]:.3g}–%{customdata[1]:.3g}<br>"
        "mean %{y:.4f} (%{customdata[2]} trials)<extra></extra>",
    )
    fig.add_scatter(
        x=[b.centre for b in full],
        y=[b.best for b in full],
        name="best",
        mode="markers",
        marker=dict(symbol="star", size=10),
    )
    if a.best_baseline is not None:
        fig.add_hline(
            y=a.best_baseline.value, line_dash="dash", line_color="#ff7f0e", annotation_text="baseline (kd_weight = 0)"
        )
    fig.update_xaxes(type="log", title="temperature (bin centre)")
    fig.update_yaxes(title="accuracy")
    return ReportFigure("temperature", title, caption, _sized(fig))


def slices(study: optuna.Study, a: StudyAnalysis) -> ReportFigure:
    """Value against each param; log params on log axes."""
    title, caption = "Slices", "Value against each param (log axes for log-scale params)."
    if not a.counts.complete:
        return ReportFigure("slices", title, caption, None, "no complete trials")
    fig = optuna.visualization.plot_slice(study, target_name="accuracy")
    return ReportFigure("slices", title, caption, _sized(fig))


def contour(study: optuna.Study, a: StudyAnalysis) -> ReportFigure:
    """The T×λ interaction as a contour of the value."""
    title = "Temperature × KD weight"
    caption = "Interpolated value over temperature (log axis) and kd_weight; dots are trials."
    if TEMPERATURE not in a.space or KD_WEIGHT not in a.space:
        return ReportFigure("contour", title, caption, None, "the study does not search both temperature and kd_weight")
    if a.counts.complete < 2:
        return ReportFigure("contour", title, caption, None, "fewer than two complete trials")
    fig = optuna.visualization.plot_contour(study, params=[TEMPERATURE, KD_WEIGHT], target_name="accuracy")
    return ReportFigure("contour", title, caption, _sized(fig))


def intermediate_values(study: optuna.Study, a: StudyAnalysis) -> ReportFigure:
    """Validation accuracy per epoch; pruned trials in red, ending with a cross."""
    title = "Learning curves and pruning"
    caption = "Validation accuracy per epoch; red curves were pruned at the cross."
    trials = [t for t in study.get_trials(deepcopy=False) if t.intermediate_values]
    if not trials:
        return ReportFigure("intermediate", title, caption, None, "no intermediate values")
    fig = go.Figure()
    shown: set[str] = set()
    for t in trials:
        steps = sorted(t.intermediate_values)
        state = t.state.name
        fig.add_scatter(
            x=steps,
            y=[t.intermediate_values[s] for s in steps],
            mode="lines",
            name=state.lower(),
            legendgroup=state,
            showlegend=state not in shown,
            line=dict(color=STATE_COLOURS.get(state, "#7f7f7f"), width=1),
            hovertemplate=f"trial {t.number}<br>epoch %{{x}}<br>%{{y:.4f}}<extra>{state}</extra>",
        )
        shown.add(state)
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    if pruned:
        last = [max(t.intermediate_values) for t in pruned]
        at = [t.intermediate_values[s] for t, s in zip(pruned, last, strict=True)]
        fig.add_scatter(
            x=last,
            y=at,
            mode="markers",
            name="pruned here",
            legendgroup="PRUNED",
            marker=dict(symbol="x", size=9, color=STATE_COLOURS["PRUNED"]),
        )
    fig.update_layout(xaxis_title="epoch", yaxis_title="validation accuracy")
    return ReportFigure("intermediate", title, caption, _sized(fig))


def timeline(study: optuna.Study, a: StudyAnalysis) -> ReportFigure:
    """When each trial ran, one row per worker (user attr ``worker``)."""
    title, caption = "Timeline", "When each trial ran, one row per worker, coloured by state."
    now = local_now()  # the end of a trial still running, in the local time its start is read in
    rows = [
        {
            "trial": t.number,
            "worker": str(t.user_attrs.get("worker", "unknown")),
            "state": t.state.name,
            "start": t.datetime_start,
            "end": t.datetime_complete or now,
            "value": t.value,
        }
        for t in study.get_trials(deepcopy=False)
        if t.datetime_start is not None
    ]
    if not rows:
        return ReportFigure("timeline", title, caption, None, "no trial has started")
    frame = pd.DataFrame(rows)
    fig = px.timeline(
        frame,
        x_start="start",
        x_end="end",
        y="worker",
        color="state",
        color_discrete_map=STATE_COLOURS,
        hover_data=["trial", "value"],
    )
    fig.update_traces(marker_line_color="white", marker_line_width=1)  # one bar per trial
    fig.update_yaxes(autorange="reversed")
    return ReportFigure("timeline", title, caption, _sized(fig))


def parallel(study: optuna.Study, a: StudyAnalysis) -> ReportFigure:
    """Parallel coordinates of every param and the value (log params as log10)."""
    title, caption = "Parallel coordinates", "Each line is a complete trial; drag on an axis."
    if not a.counts.complete:
        return ReportFigure("parallel", title, caption, None, "no complete trials")
    fig = optuna.visualization.plot_parallel_coordinate(study, target_name="accuracy")
    return ReportFigure("parallel", title, caption, _sized(fig))


def _sized(fig: go.Figure) -> go.Figure:
    fig.update_layout(height=HEIGHT, margin=dict(l=60, r=30, t=50, b=50))
    return fig
