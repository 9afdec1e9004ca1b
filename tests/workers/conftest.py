"""Fixtures of the worker tests: a fresh database and study harness per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.workers.harness import StudyHarness, fresh_database


@pytest.fixture(scope="session")
def teacher_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One teacher cache for the session: every study here has the same teacher."""
    return tmp_path_factory.mktemp("teacher-cache")


@pytest.fixture
def backend() -> str:
    """The storage backend; tests parametrise it over ``BACKENDS``."""
    return "postgresql"


@pytest.fixture
def harness(backend: str, tmp_path: Path, teacher_cache: Path) -> Iterator[StudyHarness]:
    """A study in its own fresh database; its processes are killed and the database dropped after."""
    with fresh_database(backend, tmp_path) as url:
        h = StudyHarness(tmp=tmp_path, url=url, cache_dir=teacher_cache)
        try:
            yield h
        finally:
            h.close()
