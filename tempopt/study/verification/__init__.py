"""Verification: the best configs of a finished search retrained with fresh student seeds on the
test split, beside the student alone with the same seeds.

- ``plan``: which configs are retrained, with which seeds (pure: no storage, no training);
- ``worker``: the sibling study ``NAME:verify-N`` opened and its replicates run;
- ``replicate_objective``: one replicate's training and what it records.

The verdict read from it is :func:`tempopt.analysis.compute_verdict`.
Each name is imported when first read (:mod:`tempopt.lazy_exports`).
"""

from typing import TYPE_CHECKING

from tempopt.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from tempopt.study.verification.plan import plan_replicates
    from tempopt.study.verification.worker import run_verification

__all__ = [
    "plan_replicates",
    "run_verification",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        ".plan": ("plan_replicates",),
        ".worker": ("run_verification",),
    },
)
