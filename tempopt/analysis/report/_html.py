"""``report.html``: one self-contained page that opens offline.

plotly.js is embedded once, inline. Its bundle carries a few map-tile attributions and logo
links written as ``href="https://…"`` inside JavaScript strings; they are never loaded (the
report draws no maps and hides the plotly logo), but they would make every audit for external
references (``grep -E '(src|href)=.https?:'``) flag the page. They are rewritten with the
JavaScript escape ``\\x3a`` for the colon, which leaves each string's value unchanged.
"""

from __future__ import annotations

import html
import re

from tempopt.analysis.findings._study_analysis import StudyAnalysis
from tempopt.analysis.importance._evaluators import EVALUATOR_LABELS
from tempopt.analysis.report._figures import ReportFigure
from tempopt.analysis.report._markdown import (
    VARIANT_HEADER,
    chance_line,
    front_cells,
    front_header,
    trajectory_text,
    variant_cells,
)
from tempopt.analysis.verdict._verdict import HELPED

PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}
_EXTERNAL = re.compile(r"""((?:src|href)\s*=\s*\\?["'`]?\s*)(https?):""", re.IGNORECASE)
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1150px; color: #222; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .6rem 0; }
td, th { border: 1px solid #ccc; padding: .25rem .6rem; text-align: right; }
td:first-child, th:first-child { text-align: left; }
.verdict { font-size: 1.1rem; font-weight: 600; padding: .5rem .8rem; border-radius: 4px; }
.helped { background: #e3f4e3; } .not-helped { background: #fbe9e7; }
.missing { color: #777; font-style: italic; } .caption { color: #555; margin: .2rem 0; }
"""


def render_html(analysis: StudyAnalysis, figures: list[ReportFigure], storage: str | None = None) -> str:
    """The report page: summary, KD gain, importances, next steps, then every figure.

    Args:
        analysis: from :func:`tempopt.analysis.analyse_study`.
        figures: from :func:`tempopt.analysis.report_figures`.
        storage: the storage URL to show, already redacted.
    """
    e = html.escape
    body = [f"<h1>tempopt report: {e(analysis.study_name)}</h1>", _facts(analysis, storage)]
    body += _best(analysis) + _kd(analysis) + _front(analysis) + _variants(analysis) + _importances(analysis)
    body += _grid(analysis)
    body.append("<h2>What to try next</h2><ul>" + "".join(f"<li>{e(s)}</li>" for s in analysis.next_steps) + "</ul>")
    body += _figure_sections(figures)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>tempopt report: {e(analysis.study_name)}</title><style>{_STYLE}</style></head>"
        "<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def offline_safe(fragment: str) -> str:
    """Rewrite ``src=``/``href=`` URLs inside JavaScript so no text points at http(s)."""
    return _EXTERNAL.sub(lambda m: m.group(1) + m.group(2) + "\\x3a", fragment)


def _facts(a: StudyAnalysis, storage: str | None) -> str:
    facts = [a.counts.describe()]
    if "task" in a.attrs:
        facts.append(f"task {a.attrs['task']}")
    if a.teacher_accuracy is not None:
        facts.append(f"teacher accuracy {a.teacher_accuracy:.4f}")
    if storage:
        facts.append(f"storage {storage}")
    chance = f'<p class="missing">{html.escape(chance_line(a.at_chance))}</p>' if a.at_chance else ""
    return "<p>" + html.escape(" · ".join(facts)) + "</p>" + chance


def _front(a: StudyAnalysis) -> list[str]:
    if not a.front:
        return []
    return [
        f'<h2>Pareto front</h2><p class="caption">Distilled trials no other beats on both val accuracy and '
        f"{html.escape(a.cost)}; each verified member is compared with the student alone of the same size.</p>",
        _table(front_header(a.cost), [front_cells(r) for r in a.front]),
    ]


def _variants(a: StudyAnalysis) -> list[str]:
    if not a.compares_variants:
        return []
    out = [
        '<h2>Loss variants</h2><p class="caption">Distilled trials by loss variant; verified test accuracy '
        "is the mean over the student seeds of the variant's best verified config.</p>",
        _table(VARIANT_HEADER, [variant_cells(r) for r in a.variants]),
    ]
    for r in a.variants:
        if r.trajectory:
            path = trajectory_text(r.trajectory)
            out.append(f"<p>Learned temperature of trial #{r.best_trial}: {html.escape(path)}</p>")
    return out


def _best(a: StudyAnalysis) -> list[str]:
    if a.best is None:
        return ['<h2>Best configuration</h2><p class="missing">No trial has completed yet.</p>']
    rows = [[k, f"{v:.4g}" if isinstance(v, float) else str(v)] for k, v in a.best.params.items()]
    text = a.best.describe()
    return [
        f"<h2>Best configuration</h2><p>{html.escape(text[0].upper() + text[1:])}</p>",
        f'<p class="caption">{html.escape(a.best.why)}</p>',
        _table(["param", "value"], rows),
    ]


def _kd(a: StudyAnalysis) -> list[str]:
    v = a.verdict
    css = "helped" if v.verdict == HELPED else "not-helped"
    out = ["<h2>Did distillation help?</h2>", f'<p class="verdict {css}">{html.escape(v.summary)}</p>']
    rows = []
    for label, side in (("distilled", v.distilled), ("baseline", v.baseline)):
        if side is not None:
            rows.append(
                [
                    label,
                    f"#{side.trial}",
                    ", ".join(f"{x:.4f}" for x in side.val),
                    ", ".join(f"{x:.4f}" for x in side.test) or "–",
                ]
            )
    if rows:
        out.append(_table(["side", "trial", "val per seed", f"{v.split} per seed"], rows))
    return out


def _grid(a: StudyAnalysis) -> list[str]:
    grid = a.temperature.grid
    if grid is None:
        return []
    header = ["T \\ λ"] + [f"{lo:.2g}–{hi:.2g}" for lo, hi in zip(grid.kd_edges[:-1], grid.kd_edges[1:], strict=True)]
    rows = [
        [f"{lo:.3g}–{hi:.3g}"]
        + [f"{m:.4f} ({n})" if m is not None else "·" for m, n in zip(means, counts, strict=True)]
        for lo, hi, means, counts in zip(grid.t_edges[:-1], grid.t_edges[1:], grid.mean, grid.count, strict=True)
    ]
    return [
        "<h2>Temperature × KD weight</h2>",
        '<p class="caption">Mean value (trials) of the distilled trials per cell; · = no trial.</p>',
        _table(header, rows),
    ]


def _importances(a: StudyAnalysis) -> list[str]:
    imp = a.importances
    if not imp.ok:
        return [
            "<h2>Parameter importances</h2>",
            f'<p class="missing">No importances: {html.escape(imp.reason or "")}</p>',
        ]
    names = list(imp.evaluators)
    rows = []
    for param in imp.params:
        row = [param]
        for n in names:
            ev = imp.evaluators[n]
            spread = ev.stability.get(param)
            row.append(f"{ev.importances.get(param, 0.0):.3f}" + (f" ± {spread.std:.3f}" if spread else ""))
        rows.append(row)
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in imp.notes)
    return [
        "<h2>Parameter importances</h2>",
        _table(["param"] + [EVALUATOR_LABELS.get(n, n) for n in names], rows),
        f"<ul>{notes}</ul>" if notes else "",
    ]


def _figure_sections(figures: list[ReportFigure]) -> list[str]:
    out, first = [], True
    for f in figures:
        out.append(f'<h2>{html.escape(f.title)}</h2><p class="caption">{html.escape(f.caption)}</p>')
        if f.figure is None:
            out.append(f'<p class="missing">Not drawn: {html.escape(f.missing or "")}.</p>')
            continue
        div = f.figure.to_html(full_html=False, include_plotlyjs=first, config=PLOTLY_CONFIG, div_id=f"fig-{f.key}")
        out.append(offline_safe(div))
        first = False
    return out


def _table(header: list[str], rows: list[list[str]]) -> str:
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
