"""Graceful stop on Ctrl-C / SIGTERM.

The first signal asks the worker to stop. If a job is running it is interrupted at once (its
trial is marked FAIL and queued again with the same params); database calls outside the job are
never interrupted, the worker just does not start another trial. A stop that lands where Python
cannot raise (a finalizer that garbage collection runs inside the job) is raised again in the job.
"""

from __future__ import annotations

import _thread
import contextlib
import signal
import sys
import threading
import time
from collections.abc import Iterator
from types import FrameType

from tempopt.errors import TempoptError


class WorkerStopped(BaseException):
    """Raised inside a running job when the worker was asked to stop.

    A BaseException, like KeyboardInterrupt, so that no ``except Exception`` swallows it.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum


class Interrupted(TempoptError):
    """A signal stopped the command where no trial could be failed or queued again: before the
    first trial, or while it waited for the database.

    Its exit code is the shell's for the signal: 130 for SIGINT, 143 for SIGTERM.
    """

    def __init__(self, signum: int, when: str = "before the first trial") -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name} {when}; run the same command again to resume.")
        self.signum = signum
        self.exit_code = 128 + signum


_installed: list[StopFlag] = []  # the flags that SIGINT and SIGTERM set now (signals are per process)


def pause(seconds: float) -> int | None:
    """Sleep ``seconds``, less if SIGINT or SIGTERM asks the process to stop: then its number."""
    if not _installed:
        time.sleep(seconds)
        return None
    flag = _installed[-1]
    if flag.wait(seconds):
        return flag.signum or signal.SIGTERM
    return None


class StopFlag:
    """Set by SIGINT/SIGTERM (when installed) or by :meth:`request`; checked by the worker loop."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.signum: int | None = None
        self._in_job = False  # a signal now raises WorkerStopped
        self._in_body = False  # inside interruptible()
        self._swallowed = False  # a stop raised where Python could not raise it (see _unraisable)
        self._previous_hook = sys.unraisablehook

    def is_set(self) -> bool:
        return self._event.is_set()

    def request(self, signum: int = signal.SIGTERM) -> None:
        """Ask the worker to stop after (or, inside a job, during) the current trial."""
        self.signum = signum
        self._event.set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True if a stop was requested meanwhile."""
        return self._event.wait(seconds)

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[None]:
        """Mark the body as a job that a signal may interrupt with :class:`WorkerStopped`."""
        if self.is_set():
            raise WorkerStopped(self.signum or signal.SIGTERM)
        self._in_job = self._in_body = True
        try:
            yield
        except Exception as e:  # Python may wrap the stop: raised in a class body or an import, it is a RuntimeError
            stopped = _stop_behind(e)
            if stopped is None:
                raise
            raise stopped from e
        finally:
            self._in_job = self._in_body = self._swallowed = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        first = not self.is_set()
        self.request(signum)
        if self._in_job and (first or self._swallowed):
            self._in_job = self._swallowed = False
            raise WorkerStopped(signum)

    def _unraisable(self, unraisable: sys.UnraisableHookArgs) -> None:
        """A stop raised where Python cannot raise (a ``__del__`` or weakref callback that garbage
        collection ran inside the job) is raised again, in the job's own code, and not printed."""
        if not isinstance(unraisable.exc_value, WorkerStopped):
            self._previous_hook(unraisable)
            return
        if not self._in_body:
            return
        self._in_job = self._swallowed = True
        # Signalled from another thread, the main thread handles it in the job's code; signalled
        # from here, in this hook (Python checks for signals on the call's return).
        threading.Timer(0.001, _thread.interrupt_main, args=(unraisable.exc_value.signum,)).start()

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopFlag]:
        """Route SIGINT and SIGTERM to this flag while the body runs (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        self._previous_hook, sys.unraisablehook = sys.unraisablehook, self._unraisable
        _installed.append(self)
        try:
            yield self
        finally:
            _installed.remove(self)
            sys.unraisablehook = self._previous_hook
            for s, handler in previous.items():
                signal.signal(s, handler)


def _stop_behind(error: BaseException | None) -> WorkerStopped | None:
    """The :class:`WorkerStopped` that ``error`` was raised from or while handling, if any."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, WorkerStopped):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None
