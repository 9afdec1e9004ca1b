"""The stacked forward: batched matrix products for plain MLP chains, vmap for everything else."""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap

from tempopt.distill import JobConfig, prepare_teacher, run_job
from tempopt.distill.members import Member, fit_members, member_config
from tempopt.distill.stack._students import _linear_chain, stacked_forward
from tempopt.tasks.models import MLP, ConvNet1d


def _stack(make, k=4):
    torch.manual_seed(0)
    return stack_module_state([make() for _ in range(k)])[0]


def _vmapped(template, params, x):
    return vmap(lambda p, x: functional_call(template, p, (x,)), in_dims=(0, None))(params, x)


def test_the_matrix_product_path_computes_what_vmap_computes():
    for make in (
        lambda: MLP(12, [8, 6], 5),
        lambda: nn.Sequential(nn.Flatten(), nn.Linear(12, 7), nn.Tanh(), nn.Linear(7, 5, bias=False)),
    ):
        template = make()
        assert _linear_chain(template) is not None
        params = _stack(make)
        x = torch.randn(9, 3, 4)  # flattened to 12 features
        assert torch.allclose(stacked_forward(template)(params, x), _vmapped(template, params, x), atol=1e-6)


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(8, 8), nn.Linear(8, 3)

    def forward(self, x: Tensor) -> Tensor:
        return self.b(x + torch.relu(self.a(x)))


def test_anything_else_goes_through_vmap():
    assert _linear_chain(Residual()) is None  # a custom forward is never assumed to be a chain
    assert _linear_chain(ConvNet1d(16, 3)) is None
    assert _linear_chain(nn.Sequential(nn.Linear(8, 3), nn.Softmax(-1))) is None
    assert _linear_chain(nn.Sequential(nn.ReLU())) is None  # no Linear: members would not differ
    template = Residual()
    params = _stack(Residual)
    x = torch.randn(5, 8)
    assert torch.allclose(stacked_forward(template)(params, x), _vmapped(template, params, x))


def test_students_on_the_vmap_path_train_as_they_would_alone(make_task, tmp_path):
    task = make_task(student=Residual, teacher_hidden=16)
    teacher = prepare_teacher(task, tmp_path, device="cpu")
    base = JobConfig(temperature=1.0, kd_weight=0.0, lr=0.01, epochs=4, batch_size=16, seed=2, device="cpu")
    members = [Member(2.0, 0.5, 0.01), Member(1.0, 0.0, 0.03), Member(6.0, 1.0, 0.005)]
    for member, result in zip(members, fit_members(task, base, members, teacher), strict=True):
        alone = run_job(task, member_config(base, member), teacher if member.kd_weight > 0 else None)
        assert max(abs(a - b) for a, b in zip(result.history, alone.history, strict=True)) <= 1 / len(task.val)


def test_conv_members_on_the_cpu_run_one_by_one_as_vmap_would_run_them():
    """The CPU path of a conv student (members one after the other) computes what vmap computes."""
    from tempopt.distill.stack import StudentStack
    from tempopt.tasks.models import ConvNet2d

    torch.manual_seed(0)
    students = [ConvNet2d(1, 10, width=4, depth=2) for _ in range(3)]
    x = torch.randn(8, 1, 8, 8)
    one_by_one = StudentStack([copy.deepcopy(s) for s in students], seed=0)
    vmapped = StudentStack([copy.deepcopy(s) for s in students], seed=0)
    assert one_by_one._one_by_one
    vmapped._one_by_one = False
    a, b = one_by_one.forward(x), vmapped.forward(x)
    assert a.shape == (3, 8, 10) and torch.allclose(a, b, atol=1e-5)
    for name in one_by_one.buffers:  # each member's running statistics, updated the same way
        assert torch.allclose(one_by_one.buffers[name].float(), vmapped.buffers[name].float(), atol=1e-6), name
    ga = torch.autograd.grad(a.square().sum(), list(one_by_one.params.values()))
    gb = torch.autograd.grad(b.square().sum(), list(vmapped.params.values()))
    assert all(torch.allclose(p, q, atol=1e-4) for p, q in zip(ga, gb, strict=True))
