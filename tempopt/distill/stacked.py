"""The forward pass of K stacked students: ``(params with a leading K dim, x) -> (K, B, C)``.

Any student runs through ``vmap`` over ``functional_call``. A student that is a plain chain of
``Flatten``, ``Linear`` and element-wise activations (the built-in MLPs) runs as batched matrix
products instead: the same arithmetic without ``functional_call``'s per-call module
re-parametrisation, which costs more than the products themselves for students this small.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.func import functional_call, vmap

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


def stacked_forward(template: nn.Module) -> StackedForward:
    """The K-member forward of students shaped like ``template`` (whose own params are unused)."""
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
