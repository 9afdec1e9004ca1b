"""optuna-dashboard on a tempopt storage, and the note that tells a study's spec there.

optuna-dashboard itself is imported only to serve (:func:`serve_dashboard`)."""

from tempopt.analysis.dashboard._dashboard import is_exposed, serve_dashboard, spec_note

__all__ = ["is_exposed", "serve_dashboard", "spec_note"]
