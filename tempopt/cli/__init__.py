"""The ``tempopt`` command line: thin commands that parse options and call the library."""

from tempopt.cli.app import app, main
from tempopt.cli import study_commands  # noqa: F401,E402  run, status, export, train
from tempopt.cli import worker_commands  # noqa: F401,E402  launch, grpc-proxy
from tempopt.cli import analysis_commands  # noqa: F401,E402  report, dashboard

__all__ = ["app", "main"]
