"""The typer application and the one place errors become messages and exit codes."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from tempopt.errors import TempoptError

app = typer.Typer(
    name="tempopt",
    help="Hyperparameter optimisation for knowledge distillation (T, λ, lr) on Optuna.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

STORAGE_HELP = "SQLAlchemy URL of the study storage (sqlite:///…, postgresql://…, mysql://…)."


def fail(error: TempoptError) -> None:
    """Print a TempoptError as one line (and its details under it) and exit with its code."""
    print_error(error)
    raise typer.Exit(code=error.exit_code)


def print_error(error: TempoptError) -> None:
    """The error's sentence after a red ``error:``, then its details (e.g. the user's frames) verbatim."""
    console.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
    for line in error.details:
        console.print(line, highlight=False, markup=False, soft_wrap=True)


def command(*args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``app.command`` whose TempoptErrors become one red line and the error's exit code."""

    def deco(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*a: Any, **kw: Any) -> Any:
            try:
                return func(*a, **kw)
            except TempoptError as e:
                fail(e)

        return app.command(*args, **kwargs)(wrapper)

    return deco


@app.callback()
def quiet_optuna() -> None:
    """Before any command (never for ``tempopt --help``, which imports no optuna): optuna logs
    warnings only, as tempopt prints its own progress."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


def main() -> None:
    """Entry point of the ``tempopt`` command."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except TempoptError as e:  # raised outside a command's own handling
        print_error(e)
        sys.exit(e.exit_code)
