"""The ``tempopt`` command line: thin commands that parse options and call the library."""

from tempopt.cli import (
    analysis_commands,  # noqa: F401  report, dashboard
    export_commands,  # noqa: F401  export, train (after run and status: it imports study_commands)
    proxy_commands,  # noqa: F401  grpc-proxy
    service_commands,  # noqa: F401  submit, studies, pause, resume, cancel, worker
    study_commands,  # noqa: F401  run, status
    worker_commands,  # noqa: F401  launch
)
from tempopt.cli.app import app, main

__all__ = ["app", "main"]
