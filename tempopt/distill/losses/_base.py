"""What a distillation loss variant is: a soft term over K members' logits, with its own args.

The loss tempopt optimises is ``(1 - λ)·CE(student, labels) + λ·soft(student, teacher)``; a
variant only says how ``soft`` is computed. It is a pure tensor function over every member of a
batch at once: ``(K, N, C)`` student logits against ``(N, C)`` teacher logits, with the
temperature and the variant's own args as ``(K,)`` tensors, so K trials with different values
train in one pass (K = 1 is a lone job). Variants may hold state (a learned temperature, one
entry per member, trained in an optimizer group of its own without weight decay), see the
training progress (0 at the first step, 1 at the last) and report what they learned.

Args are declared once per class (:class:`Arg`: default and range); they are validated when the
study file is read, never per batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from tempopt.errors import SpecError


@dataclass(frozen=True)
class Arg:
    """One arg of a variant: its default and the values it may take.

    A numeric arg lies in ``[low, high]`` (``low_open``/``high_open`` exclude an end); a string
    arg is one of ``choices`` (members see it as the ``(K,)`` index of their choice).
    """

    default: float | str
    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] | None = None
    help: str = ""

    def check(self, variant: str, name: str, value: Any) -> float | str:
        """``value`` as the variant uses it; a SpecError naming the arg and the fix otherwise."""
        if self.choices is not None:
            if value not in self.choices:
                raise SpecError(
                    f"loss {variant!r}: {name}={value!r} is not one of {', '.join(self.choices)}; "
                    f"use one of them (default {self.default!r})."
                )
            return str(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise SpecError(
                f"loss {variant!r}: {name} must be a finite number, got {value!r}; use e.g. {self.default!r}."
            )
        below = value <= self.low if self.low_open else value < self.low
        above = value >= self.high if self.high_open else value > self.high
        if below or above:
            raise SpecError(
                f"loss {variant!r}: {name}={value:g} lies outside {self.describe()}; "
                f"use a value inside it, e.g. {self.default!r}."
            )
        return float(value)

    def describe(self) -> str:
        if self.choices is not None:
            return "{" + ", ".join(self.choices) + "}"
        return f"{'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"


class DistillLoss:
    """A loss variant: the soft term of ``(1 - λ)·CE + λ·soft``, for K members at once.

    Subclasses set ``name``, declare ``args`` and override :meth:`soft`. Built with one mapping
    of args per member (missing ones take their defaults); ``self.values[name]`` is then a
    ``(K,)`` float tensor (the choice index for a string arg).

    Class attributes:
        uses_temperature: whether the study's temperature T feeds the variant (a variant with
            temperatures of its own, or none, says False and ``temperature`` is not searched).
        default_temperature: T where the study searches none.
        needs_targets: whether :meth:`soft` needs every row's class (transfer rows, which have
            no label, take the teacher's top class).
        batch_refusal: why members of this variant cannot share a batched pass (None: they can).
    """

    name: ClassVar[str] = "base"
    args: ClassVar[Mapping[str, Arg]] = {}
    uses_temperature: ClassVar[bool] = True
    default_temperature: ClassVar[float] = 4.0
    needs_targets: ClassVar[bool] = False
    batch_refusal: ClassVar[str | None] = None

    def __init__(
        self, members: Sequence[Mapping[str, Any]] | Mapping[str, Any] | None = None, device: torch.device | str = "cpu"
    ) -> None:
        if members is None or isinstance(members, Mapping):
            members = [members or {}]
        checked = [self.check_args(m) for m in members]
        self.size = len(checked)
        self.values: dict[str, Tensor] = {}
        for name, arg in self.args.items():
            column = [m[name] for m in checked]
            if arg.choices is not None:
                column = [arg.choices.index(str(v)) for v in column]
            self.values[name] = torch.tensor(column, dtype=torch.float32, device=device)
        self._state: dict[str, Tensor] = self.initial_state(self.values)

    @classmethod
    def check_args(cls, given: Mapping[str, Any]) -> dict[str, float | str]:
        """The full args of one member: ``given`` validated, the rest at their defaults."""
        unknown = sorted(set(given) - set(cls.args))
        if unknown:
            known = ", ".join(sorted(cls.args)) or "none"
            raise SpecError(f"loss {cls.name!r} has no arg {unknown[0]!r}; its args are: {known}.")
        return {name: arg.check(cls.name, name, given.get(name, arg.default)) for name, arg in cls.args.items()}

    def soft(
        self, student: Tensor, teacher: Tensor, targets: Tensor | None, temperature: Tensor, progress: float
    ) -> Tensor:
        """Every member's soft term, averaged over the N rows.

        Args:
            student: ``(K, N, C)`` float32 logits of the K members.
            teacher: ``(N, C)`` float32 teacher logits (no gradient flows into them).
            targets: ``(N,)`` class of every row (labels, then the teacher's top class for the
                transfer rows); given when ``needs_targets``.
            temperature: ``(K,)`` the members' T (unused when not ``uses_temperature``).
            progress: training progress, 0.0 at the first optimizer step and 1.0 at the last.

        Returns:
            ``(K,)`` soft terms.
        """
        raise NotImplementedError

    def initial_state(self, values: dict[str, Tensor]) -> dict[str, Tensor]:
        """Trainable state, one leading entry per member (none by default)."""
        return {}

    def state(self) -> dict[str, Tensor]:
        """The trainable state tensors (``requires_grad``), updated in place by the optimizer."""
        return self._state

    def keep(self, rows: Tensor) -> None:
        """Keep only the members at ``rows`` (positions in the current stack)."""
        self.values = {k: v.index_select(0, rows) for k, v in self.values.items()}
        self._state = {k: v.detach().index_select(0, rows).requires_grad_(True) for k, v in self._state.items()}
        self.size = len(rows)

    def learned(self) -> list[dict[str, float]]:
        """What each member learned, as trial user attrs (e.g. ``learned_temperature``)."""
        return [{} for _ in range(self.size)]

    def parameters(self) -> list[Tensor]:
        """The state as a list, for a lone job's optimizer."""
        return list(self._state.values())

    def __call__(
        self,
        student_logits: Tensor,
        teacher_logits: Tensor | None,
        targets: Tensor | None,
        temperature: float,
        kd_weight: float,
        progress: float = 0.0,
    ) -> Tensor:
        """One job's loss ``(1 - λ)·CE + λ·soft`` (a scalar), from ``(B, C)`` logits: :func:`mix`
        over a batch of one.

        When ``student_logits`` has more rows than ``targets`` (a labelled batch followed by a
        transfer batch), CE averages over the first ``len(targets)`` rows, the soft term over all.

        Raises:
            ValueError: a term that has weight is missing its input, or T/λ are out of range.
        """
        check_mix(temperature, kd_weight)
        if kd_weight < 1.0 and targets is None:
            raise ValueError(f"targets are required when kd_weight={kd_weight} < 1")
        if kd_weight > 0.0 and teacher_logits is None:
            raise ValueError(f"teacher_logits are required when kd_weight={kd_weight} > 0")
        logits = student_logits.float().unsqueeze(0)  # (1, B, C); cast once (bf16 under autocast), not per term
        t = torch.full((1,), float(temperature), device=logits.device)
        weight = torch.full((1,), float(kd_weight), device=logits.device)

        def soft(teacher: Tensor) -> Tensor:
            rows = all_targets(targets, teacher) if self.needs_targets else None
            return self.soft(logits, teacher, rows, t, progress)

        used_teacher = teacher_logits if kd_weight > 0.0 else None
        return mix(logits, used_teacher, targets if kd_weight < 1.0 else None, weight, soft)[0]


def mix(
    logits: Tensor,
    teacher: Tensor | None,
    targets: Tensor | None,
    kd_weight: Tensor,
    soft: Callable[[Tensor], Tensor],
) -> Tensor:
    """Every member's ``(1 - λ)·CE + λ·soft``: the one loss mix, of a batch or of a lone job.

    Args:
        logits: ``(K, N, C)`` float32 student logits, the first ``len(targets)`` rows labelled.
        teacher: ``(N, C)`` teacher logits, or None: no soft term (every λ is 0).
        targets: ``(B,)`` labels of the first B rows, or None: no hard term (every λ is 1).
        kd_weight: ``(K,)`` every member's λ.
        soft: ``(N, C)`` float32 teacher logits -> ``(K,)`` soft terms (a variant's).

    Returns:
        ``(K,)`` losses.
    """
    loss: Tensor | None = None
    if targets is not None:
        k = logits.shape[0]
        labelled = logits[:, : len(targets)]  # (K, B, C)
        picked = labelled.gather(-1, targets.view(1, -1, 1).expand(k, -1, 1)).squeeze(-1)  # (K, B)
        loss = (1 - kd_weight) * (labelled.logsumexp(-1) - picked).mean(1)  # (K,): cross-entropy
    if teacher is not None:
        distilled = kd_weight * soft(teacher.detach().float()).reshape(len(kd_weight))  # (K,): a variant may keep dims
        loss = distilled if loss is None else loss + distilled
    assert loss is not None, "a loss needs targets or a teacher"
    return loss


def all_targets(targets: Tensor | None, teacher: Tensor) -> Tensor:
    """``(N,)`` the class of every row: the labels, then the teacher's top class for the rest."""
    top = teacher.argmax(-1)
    if targets is None:
        return top
    return targets if len(targets) == len(teacher) else torch.cat([targets, top[len(targets) :]])


def check_mix(temperature: float, kd_weight: float) -> None:
    if not 0 < temperature < math.inf:
        raise ValueError(f"temperature must be finite and > 0, got {temperature}")
    if not 0.0 <= kd_weight <= 1.0:
        raise ValueError(f"kd_weight must be in [0, 1], got {kd_weight}")


def log_softmax(z: Tensor) -> Tensor:
    """``log_softmax`` over the last dim through ``logsumexp``: 3x faster than torch's kernel on
    ``(K, N, C)`` with few classes on the CPU (measured at K = 16, N = 132, C = 10)."""
    return z - z.logsumexp(-1, keepdim=True)


def kl_rows(log_p: Tensor, log_q: Tensor) -> Tensor:
    """``KL(p ‖ q)`` summed over the last dim: ``(..., C) -> (...)``."""
    return (log_p.exp() * (log_p - log_q)).sum(-1)


def per_member(values: Tensor, like: Tensor) -> Tensor:
    """``(K,)`` values shaped to broadcast against ``(K, N, C)``."""
    return values.view(-1, *([1] * (like.dim() - 1)))
