"""Export and retrain: a study's verdict and best config written for other tools (an export file,
the dashboard's note), and a student retrained from one. Above :mod:`tempopt.analysis` (an export
carries the verdict), below the CLI.

Each name is imported when first read (:mod:`tempopt.lazy_exports`): ``tempopt export`` does not
import the trainer and torch.
"""

from typing import TYPE_CHECKING

from tempopt.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from tempopt.export._dashboard_note import refresh_note
    from tempopt.export._export import (
        check_export_path,
        check_params,
        export_best,
        export_pareto,
        read_export,
        versions,
        write_export,
    )
    from tempopt.export._retrain import check_retrain, retrain

__all__ = [
    "check_export_path",
    "check_params",
    "check_retrain",
    "export_best",
    "export_pareto",
    "read_export",
    "refresh_note",
    "retrain",
    "versions",
    "write_export",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "._export": (
            "check_export_path",
            "check_params",
            "export_best",
            "export_pareto",
            "read_export",
            "versions",
            "write_export",
        ),
        "._dashboard_note": ("refresh_note",),
        "._retrain": ("check_retrain", "retrain"),
    },
)
