"""The stop flag: a signal inside a job ends it with WorkerStopped, however Python wraps it."""

from __future__ import annotations

import signal

import pytest

from tempopt.study.stopping import StopFlag, WorkerStopped


class _StopsWhenNamed:
    """A descriptor whose ``__set_name__`` is where the signal lands (as in a lazy import of a
    module defining classes): Python 3.11 wraps what it raises in a RuntimeError."""

    def __init__(self, flag: StopFlag) -> None:
        self.flag = flag

    def __set_name__(self, owner: type, name: str) -> None:
        self.flag._handle(signal.SIGTERM, None)  # the handler, as the signal would call it


def test_a_stop_raised_inside_a_class_body_is_still_a_stop():
    flag = StopFlag()
    with pytest.raises(WorkerStopped) as stopped:
        with flag.interruptible():

            class Owner:
                field = _StopsWhenNamed(flag)

    assert stopped.value.signum == signal.SIGTERM and flag.is_set()


def test_an_error_of_the_job_itself_stays_that_error():
    flag = StopFlag()
    with pytest.raises(ValueError, match="bad lr"):
        with flag.interruptible():
            raise ValueError("bad lr")
    assert not flag.is_set()


def test_a_stop_requested_before_the_job_starts_stops_it_at_once():
    flag = StopFlag()
    flag.request(signal.SIGINT)
    with pytest.raises(WorkerStopped):
        with flag.interruptible():
            raise AssertionError("not run")
