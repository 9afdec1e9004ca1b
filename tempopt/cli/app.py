"""The typer application and the one place errors become messages and exit codes."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console

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
    """Print a TempoptError as one line and exit with its code."""
    console.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=error.exit_code)


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


def main() -> None:
    """Entry point of the ``tempopt`` command."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # tempopt prints its own progress
    try:
        app()
    except TempoptError as e:  # raised outside a command's own handling
        console.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
        sys.exit(e.exit_code)
