"""K students of one architecture as stacked tensors: ``(K, ...)`` params and buffers, one forward.

The students' params and buffers (BatchNorm's running statistics) are stacked along a leading
member dim (``torch.func.stack_module_state``) and the K students run as one: through ``vmap``
over ``functional_call``, each member with its own params and its own buffers, so a BatchNorm
member normalises with its own batch statistics in training, updates its own running
statistics, and uses them in evaluation, exactly as it would alone. A batch of one calls the
student with ``functional_call`` and no ``vmap``, so any module trains as a batch of one.

A student that is a plain chain of ``Flatten``, ``Linear`` and element-wise activations (the
built-in MLPs) runs as batched matrix products instead: the same arithmetic without
``functional_call``'s per-call module re-parametrisation, which costs more than the products
themselves for students this small. A convolutional student on the CPU runs its members one
after the other (each with its own rows of the stacked tensors): ``vmap`` turns K convolutions
into one grouped convolution, whose backward on the CPU took 1.6× the time of the K one by one
(a resnet8 on 28×28 digits, K = 16, one thread). Dropout masks come from the job's generator
(:mod:`tempopt.distill.stack._dropout`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap

from tempopt.distill.stack._dropout import DropoutMasks
from tempopt.tasks.models import MLP

StackedForward = Callable[[dict[str, Tensor], Tensor], Tensor]
Chain = list[tuple[str, Callable[[Tensor], Tensor] | None]]

_ACTIVATIONS: dict[type[nn.Module], Callable[[Tensor], Tensor]] = {
    nn.ReLU: torch.relu,
    nn.Tanh: torch.tanh,
    nn.Sigmoid: torch.sigmoid,
    nn.GELU: nn.functional.gelu,
    nn.Identity: lambda x: x,
}


class StudentStack:
    """The running members' students: stacked params and buffers, a training and an eval forward.

    Args:
        students: one student per member, of one architecture, on the job's device; the first
            is the template the stack calls, with its ``nn.Dropout`` layers replaced until
            :meth:`close`.
        seed: the job seed (the dropout masks' generator).
    """

    def __init__(self, students: list[nn.Module], seed: int) -> None:
        params, buffers = stack_module_state(students)  # {name: (K, ...)}
        self.params: dict[str, Tensor] = {k: v.detach().requires_grad_(True) for k, v in params.items()}
        self.buffers: dict[str, Tensor] = {k: v.detach() for k, v in buffers.items()}
        self.template = students[0].train()  # the architecture: called with the stack's tensors
        device = next(iter(self.params.values())).device
        self.dropout = DropoutMasks(self.template, seed, device)
        self._chain = _linear_chain(self.template)
        self._vmapped = vmap(self._call, in_dims=(0, 0, None))
        convolutional = any(isinstance(m, nn.modules.conv._ConvNd) for m in self.template.modules())
        self._one_by_one = convolutional and device.type == "cpu"

    def __len__(self) -> int:
        return next(iter(self.params.values())).shape[0]

    def forward(self, x: Tensor, transfer: bool = False, update: Tensor | None = None) -> Tensor:
        """``(B, ...)`` -> ``(K, B, C)`` in training mode: batch statistics, dropout masks.

        Args:
            x: a labelled batch, or a transfer batch (``transfer``: its own dropout stream).
            update: ``(K,)`` bool, the members whose running statistics this forward updates
                (None: every member); the others' stay as they were.
        """
        self.dropout.draw(x, self._record, stream=int(transfer))
        if update is None or not self.buffers:
            return self._run(x)
        before = {k: v.clone() for k, v in self.buffers.items()}
        logits = self._run(x)
        for k, v in self.buffers.items():  # new tensors: the forward's own may be saved for backward
            self.buffers[k] = torch.where(update.view(-1, *[1] * (v.dim() - 1)), v, before[k])
        return logits

    def evaluate(self, x: Tensor) -> Tensor:
        """``(B, ...)`` -> ``(K, B, C)`` in eval mode: running statistics, no dropout."""
        self.template.eval()
        try:
            return self._run(x)
        finally:
            self.template.train()

    def keep(self, rows: list[int]) -> None:
        """Keep only the members at ``rows`` (positions in the current stack)."""
        index = torch.tensor(rows, dtype=torch.long, device=next(iter(self.params.values())).device)
        self.params = {k: v.detach().index_select(0, index).requires_grad_(True) for k, v in self.params.items()}
        self.buffers = {k: v.index_select(0, index) for k, v in self.buffers.items()}

    @torch.no_grad()
    def write(self, row: int, student: nn.Module) -> None:
        """Copy the member at ``row`` into ``student`` (of the same architecture)."""
        for name, tensor in [*student.named_parameters(), *student.named_buffers()]:
            tensor.copy_(self.params[name][row] if name in self.params else self.buffers[name][row])

    def close(self) -> None:
        """Give the template (the first student) its own dropout layers back."""
        self.dropout.restore()

    def _run(self, x: Tensor) -> Tensor:
        if self._chain is not None:
            return _run_chain(self._chain, self.params, x)
        if len(self) == 1:
            return self._call(self._row(self.params), self._row(self.buffers), x).unsqueeze(0)
        if self._one_by_one:
            return self._each(x)
        return self._vmapped(self.params, self.buffers, x)

    def _each(self, x: Tensor) -> Tensor:
        """``(K, B, C)``: the members called one after the other, each on the same dropout masks."""
        masks = [list(layer.masks) for layer in self.dropout.layers]  # drawn once for all members
        params = {k: v.unbind(0) for k, v in self.params.items()}  # one backward copy, not one per member
        out = []
        for row in range(len(self)):
            for layer, drawn in zip(self.dropout.layers, masks, strict=True):
                layer.masks = list(drawn)
            mine = {k: v[row] for k, v in params.items()}
            out.append(self._call(mine, self._row(self.buffers, row), x))  # (B, C)
        return torch.stack(out)

    def _call(self, params: dict[str, Tensor], buffers: dict[str, Tensor], x: Tensor) -> Tensor:
        return functional_call(self.template, (params, buffers), (x,))

    def _record(self, x: Tensor) -> None:
        """An eval-mode forward of the first member (what the dropout layers need is recorded)."""
        self.template.eval()
        try:
            self._call(self._row(self.params), self._row(self.buffers), x)
        finally:
            self.template.train()

    @staticmethod
    def _row(tensors: dict[str, Tensor], row: int = 0) -> dict[str, Tensor]:
        return {k: v[row] for k, v in tensors.items()}  # views: in-place updates reach the stack


def stacked_forward(template: nn.Module) -> StackedForward:
    """The K-member forward of students shaped like ``template`` without buffers (whose own
    params are unused): batched matrix products for a plain chain, ``vmap`` for anything else."""
    chain = _linear_chain(template)
    if chain is None:
        return vmap(lambda p, x: functional_call(template, p, (x,)), in_dims=(0, None))
    return lambda params, x: _run_chain(chain, params, x)


def _linear_chain(template: nn.Module) -> Chain | None:
    """``[(param prefix of a Linear, None) or ("", activation) or ("flatten", None)]``, or None
    when ``template`` is not exactly such a chain (a custom ``forward`` is never assumed)."""
    if type(template) is MLP:
        root, prefix = template.net, "net."
    elif type(template) is nn.Sequential:
        root, prefix = template, ""
    else:
        return None
    chain: Chain = []
    for name, layer in root.named_children():
        kind = type(layer)
        if kind is nn.Linear:
            chain.append((f"{prefix}{name}.", None))
        elif kind is nn.Flatten and layer.start_dim == 1 and layer.end_dim == -1:
            chain.append(("flatten", None))
        elif kind in _ACTIVATIONS and (kind is not nn.GELU or layer.approximate == "none"):
            chain.append(("", _ACTIVATIONS[kind]))
        else:
            return None
    return chain if any(prefix not in ("", "flatten") for prefix, _ in chain) else None


def _run_chain(chain: Chain, params: dict[str, Tensor], x: Tensor) -> Tensor:
    h, shared = x, True  # (B, ...) shared by the members until the first Linear, then (K, B, F)
    for prefix, activation in chain:
        if prefix == "flatten":
            h = h.flatten(1) if shared else h.flatten(2)
        elif activation is not None:
            h = activation(h)
        else:
            weight, bias = params[prefix + "weight"], params.get(prefix + "bias")  # (K, out, in), (K, out)
            h = torch.matmul(h, weight.transpose(1, 2))  # (B, in) or (K, B, in) -> (K, B, out)
            if bias is not None:
                h = h + bias.unsqueeze(1)
            shared = False
    return h
