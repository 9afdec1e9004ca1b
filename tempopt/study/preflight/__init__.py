"""The pre-flight: what can be checked about a study before its storage is opened.

Every command that opens a study for work runs it once, before the storage is touched (``run``
and ``launch`` through :func:`~tempopt.study.workers.setup.prepare_study`, which a pool worker
runs too, ``submit`` itself): a problem is one sentence and nothing is written. It builds the
task and checks, in this order:

- the device: a torch device tempopt trains on, present on this host;
- the classes: ``num_classes`` is at least 2 (:mod:`._data`);
- the data: every split given is non-empty (an empty transfer set is no transfer set), its labels
  are integer class indices ``0 .. num_classes-1`` and its inputs are finite — a tensor split
  whole, another dataset through its first items (:mod:`._data`);
- the teacher's recipe: a checkpoint that exists, loads with ``weights_only=True`` and fits the
  teacher (a ``module.`` prefix is stripped, with a warning), or else at least one training epoch
  (:mod:`._teacher`);
- the models: each is sized on the ``meta`` device before it is built (parameters that alone
  exceed the free memory are refused before they are allocated, :mod:`._flight`);
- the fit of data and models: inputs of another floating dtype are cast to the models', and a
  BatchNorm model's batch of one is avoided, each with a warning (:mod:`tempopt.study.spec.task_fit`);
- the logits: the teacher and the student, run once (in eval mode, without gradients) on a few
  training inputs, augmented as in training, give finite logits of shape ``(B, num_classes)``;
  a tuple or a dict names the element that has that shape (:mod:`._models`);
- something to train: the student has parameters, and so has a teacher without a checkpoint.

An exception raised in the user's code (the task module, its factory, a model, the
augmentation), or a ``sys.exit`` there, is one sentence naming the factory or model, followed
by ``in your code:`` and the frames of the user's own files. A check is a function of a
:class:`Flight` that raises a :class:`~tempopt.errors.TempoptError`; the next one joins
:data:`CHECKS`. The global random state is left as it was found.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from tempopt.distill.device import parse_device, resolve_device
from tempopt.study.preflight._data import check_num_classes, check_splits
from tempopt.study.preflight._flight import SAMPLE, Flight, user_call
from tempopt.study.preflight._models import check_logits, check_trainable, fit_data
from tempopt.study.preflight._teacher import check_teacher_recipe
from tempopt.study.spec.host import task_as_written
from tempopt.study.spec.model import StudySpec

__all__ = ["CHECKS", "SAMPLE", "Flight", "preflight", "user_call"]

CHECKS: list[Callable[[Flight], None]] = [
    check_num_classes,
    check_splits,
    check_teacher_recipe,
    fit_data,
    check_logits,
    check_trainable,
]
"""The checks, in order; a later one may use what an earlier one loaded (the teacher's weights)
or changed (the data fitted to the models)."""


def preflight(spec: StudySpec, on_this_host: bool = True) -> Flight:
    """Build the spec's task and run every check on it.

    Args:
        spec: the validated study file.
        on_this_host: False for ``tempopt submit``: the study runs on the workers' hosts, so its
            device is only checked to be a device, and the models run on the CPU.

    Returns:
        The flight: its ``task`` fitted to its models, as :func:`~tempopt.study.spec.host.load_spec_task`
        builds it.

    Raises:
        SpecError, TaskError: one sentence (and the user's frames) naming what to fix.
    """
    device = resolve_device(spec.device) if on_this_host else _named_device(spec.device)
    flight = Flight(spec, task_as_written(spec), device)
    with torch.random.fork_rng(devices=[]):  # building models draws from it
        for check in CHECKS:
            check(flight)
    return flight


def _named_device(name: str) -> torch.device:
    parse_device(name)  # a name that is no device is refused here too
    return torch.device("cpu")
