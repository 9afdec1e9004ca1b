"""``report.md``: the analysis as Markdown that reads well in a terminal."""

from __future__ import annotations

from typing import Any

from tempopt.analysis.findings._front import FrontRow
from tempopt.analysis.findings._sensitivity import TemperatureSensitivity
from tempopt.analysis.findings._study_analysis import StudyAnalysis
from tempopt.analysis.findings._variants import VariantRow
from tempopt.analysis.importance._evaluators import EVALUATOR_LABELS
from tempopt.analysis.importance._importance import ImportanceAnalysis
from tempopt.analysis.verdict._best import BestConfig
from tempopt.analysis.verdict._verdict import Verdict


def render_markdown(analysis: StudyAnalysis, storage: str | None = None) -> str:
    """The whole report as Markdown.

    Args:
        analysis: from :func:`tempopt.analysis.analyse_study`.
        storage: the storage URL to show, already redacted.
    """
    parts = [
        f"# tempopt report: {analysis.study_name}",
        _header(analysis, storage),
        _best(analysis.best),
        verdict_markdown(analysis.verdict),
        *([front_markdown(analysis)] if analysis.front else []),
        *([variants_markdown(analysis.variants)] if analysis.compares_variants else []),
        _importance_section(analysis.importances),
        _temperature_section(analysis.temperature),
        "## What to try next\n\n" + "\n".join(f"- {s}" for s in analysis.next_steps),
    ]
    return "\n\n".join(parts) + "\n"


def _header(a: StudyAnalysis, storage: str | None) -> str:
    facts = []
    if "task" in a.attrs:
        facts.append(f"task {a.attrs['task']}")
    if a.teacher_accuracy is not None:
        facts.append(f"teacher accuracy {a.teacher_accuracy:.4f}")
    if "tempopt_version" in a.attrs:
        facts.append(f"tempopt {a.attrs['tempopt_version']}")
    if storage:
        facts.append(f"storage `{storage}`")
    lines = [" · ".join(facts)] if facts else []
    lines.append(f"{a.counts.describe()} (direction: {a.direction}).")
    if a.at_chance:
        lines.append(f"{chance_line(a.at_chance)}")
    return "\n".join(lines)


def chance_line(numbers: list[int]) -> str:
    """One sentence on the trials that learned nothing."""
    shown = ", ".join(f"#{n}" for n in numbers[:10]) + (" …" if len(numbers) > 10 else "")
    return (
        f"{len(numbers)} trial{'s' if len(numbers) != 1 else ''} never beat chance level ({shown}; "
        "user attr at_chance): their learning rate was far too high or too low."
    )


def _best(best: BestConfig | None) -> str:
    if best is None:
        return "## Best configuration\n\nNo trial has completed yet."
    rows = [[name, _fmt(value)] for name, value in best.params.items()]
    text = best.describe()
    return f"## Best configuration\n\n{text[0].upper()}{text[1:]}\n\n{best.why}\n\n" + table(["param", "value"], rows)


def verdict_markdown(v: Verdict) -> str:
    """The verdict section: the sentence, then each side's per-seed figures."""
    lines = ["## Did distillation help?", "", f"**{v.summary}**", ""]
    if v.gain is not None:
        lines.append(
            f"- verdict: **{v.verdict}** (on the {v.split} split; student seeds "
            f"{', '.join(str(s) for s in v.seeds)}; 95 % paired bootstrap interval over seeds and examples)"
        )
        lines.append(f"- gain: {v.gain['mean']:+.4f} [{v.gain['low']:+.4f}, {v.gain['high']:+.4f}]")
    for label, side in (("distilled", v.distilled), ("baseline (the student alone)", v.baseline)):
        if side is None:
            continue
        params = ", ".join(f"{k}={_fmt(x)}" for k, x in side.params.items())
        figures = f"val {', '.join(f'{x:.4f}' for x in side.val)}"
        if side.test:
            figures += f"; {v.split} {', '.join(f'{x:.4f}' for x in side.test)}"
        lines.append(f"- {label}: trial #{side.trial} ({params}): {figures}")
    return "\n".join(lines).rstrip()


def front_cells(r: FrontRow) -> list[str]:
    """One row of the Pareto table (shared by the Markdown and HTML reports)."""
    params = ", ".join(f"{k}={_fmt(v)}" for k, v in r.params.items())
    test = (
        f"{sum(r.test) / len(r.test):.4f} vs {sum(r.baseline_test) / len(r.baseline_test):.4f} alone"
        if r.test and r.baseline_test
        else "not verified"
    )
    return [f"#{r.trial}", f"{r.accuracy:.4f}", f"{r.cost:.4g}", test, r.verdict or "–", params]


def front_header(cost: str) -> list[str]:
    return ["trial", "val accuracy", cost, "verified test (mean over seeds)", "verdict", "config"]


def front_markdown(a: StudyAnalysis) -> str:
    """The distilled Pareto front: accuracy against cost, each verified member against the student
    alone of the same size."""
    return "\n".join(
        [
            "## Pareto front",
            "",
            f"Distilled trials no other beats on both val accuracy and {a.cost}. Export them with "
            "`tempopt export --pareto --out DIR`; a verified member's verdict compares it with the "
            "student alone of the same size.",
            "",
            table(front_header(a.cost), [front_cells(r) for r in a.front]),
        ]
    )


def variant_cells(r: VariantRow) -> list[str]:
    """One row of the per-variant table (shared by the Markdown and HTML reports)."""
    best = f"{r.best_val:.4f} (#{r.best_trial})" if r.best_val is not None else "–"
    spread = f"{r.val_sd:.4f}" if r.val_sd is not None else "–"
    test = f"{r.verified_test:.4f} ({r.verified_seeds} seeds)" if r.verified_test is not None else "not verified"
    learned = f"{r.learned_temperature:.3g}" if r.learned_temperature is not None else ""
    return [r.variant, f"{r.trials} ({r.complete})", best, spread, test, learned]


def trajectory_text(values: list[float], points: int = 10) -> str:
    """``epoch 1: 4.3 → epoch 7: 6.1 → …``: at most ``points`` epochs, the first and the last included."""
    n = len(values)
    epochs = sorted({round(i * (n - 1) / max(points - 1, 1)) for i in range(min(points, n))})
    return " → ".join(f"epoch {e + 1}: {values[e]:.3g}" for e in epochs)


VARIANT_HEADER = ["variant", "trials (complete)", "best val", "val sd", "verified test", "learned T"]


def variants_markdown(rows: list[VariantRow]) -> str:
    """The per-variant comparison, and each learned temperature's trajectory."""
    lines = [
        "## Loss variants",
        "",
        "Distilled trials by loss variant. Verified test accuracy is the mean over the student seeds "
        "of the variant's best verified config (only the top configs are verified).",
        "",
        table(VARIANT_HEADER, [variant_cells(r) for r in rows]),
    ]
    for r in rows:
        if r.trajectory:
            lines += ["", f"Learned temperature of trial #{r.best_trial}: {trajectory_text(r.trajectory)}"]
    return "\n".join(lines)


def _importance_section(imp: ImportanceAnalysis) -> str:
    head = "## Parameter importances"
    if not imp.ok:
        return f"{head}\n\nNo importances: {imp.reason}"
    names = list(imp.evaluators)
    rows = []
    for param in imp.params:
        cells = [param]
        for name in names:
            e = imp.evaluators[name]
            value = e.importances.get(param)
            spread = e.stability.get(param)
            cell = "–" if value is None else f"{value:.3f}"
            if value is not None and spread is not None:
                cell += f" ± {spread.std:.3f}"
            cells.append(cell)
        rows.append(cells)
    lines = [
        head,
        "",
        f"From {imp.n_trials} complete trials; ± is the std over {imp.n_bootstrap} bootstrap resamples.",
        "",
    ]
    lines.append(table(["param"] + [EVALUATOR_LABELS.get(n, n) for n in names], rows))
    lines.append("")
    lines += [f"- {_stability_line(imp, n)}" for n in names]
    agree = ", ".join(
        f"{EVALUATOR_LABELS[g.first]}~{EVALUATOR_LABELS[g.second]} "
        + ("n/a" if g.spearman is None else f"{g.spearman:+.2f}")
        for g in imp.agreement
    )
    lines.append(f"- rank agreement (Spearman): {agree}")
    lines += [f"- note: {n}" for n in imp.notes]
    return "\n".join(lines)


def _stability_line(imp: ImportanceAnalysis, name: str) -> str:
    e = imp.evaluators[name]
    label = EVALUATOR_LABELS.get(name, name)
    text = f"{label}: top param {e.top}"
    if e.top_share is not None:
        text += f", first in {e.top_share:.0%} of resamples"
    if e.note:
        text += f" ({e.note})"
    return text


def _temperature_section(ts: TemperatureSensitivity) -> str:
    head = f"## Temperature sensitivity (kd_weight > 0, {ts.n_trials} trials)"
    if ts.reason:
        return f"{head}\n\n{ts.reason}"
    rows = [[f"{b.low:.3g}–{b.high:.3g}", str(b.count), _fmt(b.mean), _fmt(b.std), _fmt(b.best)] for b in ts.bins]
    text = head + "\n\n" + table(["T", "trials", "mean", "std", "best"], rows)
    if ts.grid is not None:
        g = ts.grid
        kd_bins = zip(g.kd_edges[:-1], g.kd_edges[1:], strict=True)
        header = ["T \\ λ"] + [f"{lo:.2g}–{hi:.2g}" for lo, hi in kd_bins]
        grid_rows = [
            [f"{lo:.3g}–{hi:.3g}"] + [_fmt(m) if m is not None else "·" for m in row]
            for lo, hi, row in zip(g.t_edges[:-1], g.t_edges[1:], g.mean, strict=True)
        ]
        text += "\n\n### T × λ: mean value per cell (· = no trial)\n\n" + table(header, grid_rows)
    return text


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table with columns padded to line up in a terminal."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[Any]) -> str:
        padded = (str(c).ljust(w) for c, w in zip(cells, widths, strict=True))
        return "| " + " | ".join(padded) + " |"

    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return f"{value:.4g}"
