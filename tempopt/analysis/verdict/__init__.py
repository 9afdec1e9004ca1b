"""Did distillation help? The one verdict every command shows, and the one best config.

The search selects on the validation split with one student seed, so its best value is
optimistic (the winner's curse) and the epoch-to-epoch wobble of one run is far smaller than
the spread between seeds. The verdict therefore rests on verification only
(``tempopt.study.verification.worker``): the distilled config with the best mean validation accuracy over
the fresh student seeds, against the best baseline config (the student alone, tuned by its own
search), both retrained with the same seeds and measured on the held-out test split
(:mod:`._compute` reads them).

The gain is the mean over seeds of the paired test-accuracy difference. Its 95 % interval is a
paired bootstrap over seeds and test examples (:mod:`._interval`): each resample draws seeds and
examples with replacement, the same draws for both sides, so the interval covers both the
seed-to-seed spread and the finite test set. *helped* only when the whole interval is above 0,
*hurt* when below, *no evidence* otherwise (:mod:`._verdict`) -- and also whenever verification
is off, unfinished, or one side is missing, or the student alone was no fair rival
(:mod:`._rival`), with the reason said.

The best config (:mod:`._best`) is the verdict's distilled config once verified, the search's
best trial (marked unverified) before.
"""

from tempopt.analysis.verdict._best import BestConfig, Figure, best_config
from tempopt.analysis.verdict._compute import compute_verdict, member_verdicts
from tempopt.analysis.verdict._interval import paired_interval
from tempopt.analysis.verdict._verdict import HELPED, HURT, NO_EVIDENCE, Side, Verdict, unverified_verdict

__all__ = [
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
]
