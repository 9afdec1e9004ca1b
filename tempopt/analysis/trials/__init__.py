"""Which trials an analysis reads: complete ones counted by state, the searched space, the log10
view the importance evaluators see, and one trial as the report shows it."""

from tempopt.analysis.trials._trial_summary import TrialSummary
from tempopt.analysis.trials._trials import TrialCounts, count_trials, log10_view, search_space

__all__ = ["TrialCounts", "TrialSummary", "count_trials", "log10_view", "search_space"]
