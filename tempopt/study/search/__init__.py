"""The search: a spec's distributions and suggestions, its sampler and pruner, the student alone's
own baseline trials and sampler, per-epoch reports to the pruner, and what a study optimises
(accuracy alone, or against the student's cost).

- ``space``: distributions, suggestions, sampler and pruner from a spec;
- ``baseline``: the baseline trials (the student alone, tuned like the distilled side);
- ``epoch_reports``: every epoch's validation accuracy stored and the pruner asked;
- ``metrics``: the objectives, their directions, and reading a trial's accuracy or a Pareto front.

Each name is imported when first read (:mod:`tempopt.lazy_exports`).
"""

from typing import TYPE_CHECKING

from tempopt.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from tempopt.study.search.metrics import accuracy_of, is_multi, pareto_front
    from tempopt.study.search.space import distributions, make_pruner, make_sampler, suggest

__all__ = [
    "accuracy_of",
    "distributions",
    "is_multi",
    "make_pruner",
    "make_sampler",
    "pareto_front",
    "suggest",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        ".space": ("distributions", "make_pruner", "make_sampler", "suggest"),
        ".metrics": ("accuracy_of", "is_multi", "pareto_front"),
    },
)
