"""The stop flag: a signal inside a job ends it with WorkerStopped, however Python wraps it."""

from __future__ import annotations

import signal
import time

import pytest

from tempopt.stopping import StopFlag, WorkerStopped


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


class _SignalledWhenCollected:
    """An object whose finalizer is where the signal lands (as in a weakref callback that garbage
    collection runs inside the job): Python cannot raise there; it prints 'Exception ignored'."""

    def __del__(self) -> None:
        signal.raise_signal(signal.SIGTERM)
        sum(range(100))  # the handler runs here, inside the finalizer


def test_a_stop_that_lands_in_a_finalizer_still_stops_the_job_and_is_not_printed(capsys):
    flag = StopFlag()
    start = time.monotonic()
    with flag.installed(), pytest.raises(WorkerStopped) as stopped:
        with flag.interruptible():
            _SignalledWhenCollected()  # collected at once
            while time.monotonic() - start < 10:
                pass
    assert stopped.value.signum == signal.SIGTERM and flag.is_set()
    assert time.monotonic() - start < 10  # stopped in the job, not after it
    assert "Exception ignored" not in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) is not flag._handle


def test_a_finalizer_signalled_outside_any_job_asks_the_worker_to_stop_only(capsys):
    flag = StopFlag()
    with flag.installed():
        _SignalledWhenCollected()
        sum(range(100))
    assert flag.is_set()
    assert "Traceback" not in capsys.readouterr().err
