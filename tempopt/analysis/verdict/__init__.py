"""Did distillation help? The one verdict every command shows (rested on verification, with its
paired bootstrap interval and the fair-rival rule), and the one best config it names."""

from tempopt.analysis.verdict._best import BestConfig, Figure, best_config
from tempopt.analysis.verdict._interval import paired_interval
from tempopt.analysis.verdict._verdict import (
    HELPED,
    HURT,
    NO_EVIDENCE,
    Side,
    Verdict,
    compute_verdict,
    member_verdicts,
    unverified_verdict,
)

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
