"""Checks of values against Optuna distributions."""

from __future__ import annotations

from typing import Any

from optuna.distributions import BaseDistribution


def contains(distribution: BaseDistribution, value: Any) -> bool:
    """True if ``value`` is one that ``distribution`` could have suggested."""
    try:
        return bool(distribution._contains(distribution.to_internal_repr(value)))  # noqa: SLF001
    except (ValueError, TypeError):
        return False
