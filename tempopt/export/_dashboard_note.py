"""The note optuna-dashboard shows beside a study: its spec, its teacher and its verdict as they stand.

Written here, above :mod:`tempopt.analysis` (which composes it and only reads): the workers get
:func:`refresh_note` as a callback (``RunHooks.on_study_changed``) from the command line.
"""

from __future__ import annotations

import optuna


def refresh_note(study: optuna.Study) -> None:
    """Save the dashboard note (optuna-dashboard shows it; a study system attr): the spec, the
    teacher and the verdict as they stand (:func:`tempopt.analysis.spec_note`)."""
    import optuna_dashboard

    from tempopt.analysis import spec_note

    optuna_dashboard.save_note(study, spec_note(study))
