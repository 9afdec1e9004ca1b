"""The ``tempopt`` command line: thin commands that parse options and call the library."""

from tempopt.cli import (
    analysis_commands,  # noqa: F401,E402  report, dashboard
    study_commands,  # noqa: F401,E402  run, status, export, train
    worker_commands,  # noqa: F401,E402  launch, grpc-proxy
)
from tempopt.cli.app import app, main

__all__ = ["app", "main"]
