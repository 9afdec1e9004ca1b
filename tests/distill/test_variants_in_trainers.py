"""Every registered loss variant trains in the lone trainer and the batched one, and agrees."""

from __future__ import annotations

import math

import pytest

from tempopt.distill import JobConfig, run_job
from tempopt.distill.losses import loss_class, loss_names
from tempopt.distill.members import Member, fit_members, member_config
from tests.distill.variant_members import members as variant_members

VARIANTS = loss_names()  # at collection: the registered variants, each tested with no edit here
ARGS = {  # three members of some variants, picked by hand (the others' are made from their declared args)
    "schedule": [{"t_start": 8.0, "t_end": 2.0}, {"t_start": 1.0, "t_end": 6.0, "shape": "cosine"}, {}],
    "learned": [{}, {"t_init": 2.0, "grl_max": 2.0}, {"t_min": 2.0, "t_max": 10.0, "t_init": 3.0}],
    "dkd": [{}, {"alpha": 0.5, "beta": 4.0, "warmup": 0.0}, {"beta": 1.0}],
    "ttm": [{}, {"gamma": 0.9, "weighted": "yes"}, {"gamma": 0.2}],
}


def _base(**overrides) -> JobConfig:
    fields = dict(
        temperature=1.0, kd_weight=0.0, lr=0.01, epochs=4, batch_size=16, seed=2, device="cpu", weight_decay=0.01
    )
    fields.update(overrides)
    return JobConfig(**fields)


def _members(name: str) -> list[Member]:
    triples = [(2.0, 0.5, 0.01), (4.0, 0.9, 0.03), (1.5, 1.0, 0.005)]
    return [
        Member(t, lam, lr, name, args) for (t, lam, lr), args in zip(triples, variant_members(name, ARGS), strict=True)
    ]


def test_the_members_picked_by_hand_are_of_registered_variants():
    assert set(ARGS) <= set(VARIANTS)


@pytest.mark.parametrize("name", VARIANTS)
def test_each_variant_trains_alone_and_batched_to_the_same_accuracies(name, make_task, teacher_for):
    task = make_task()
    teacher = teacher_for(task)
    base = _base()
    members = _members(name)
    together = fit_members(task, base, members, teacher)
    for member, result in zip(members, together, strict=True):
        alone = run_job(task, member_config(base, member), teacher)
        assert result.error is None and all(math.isfinite(a) for a in alone.history)
        assert max(abs(a - b) for a, b in zip(result.history, alone.history, strict=True)) <= 1 / len(task.val)
        assert result.learned.keys() == alone.learned.keys()


def test_members_of_different_variants_share_one_pass(make_task, teacher_for):
    task = make_task()
    teacher = teacher_for(task)
    base = _base(epochs=3)
    members = [_members(name)[i % 3] for i, name in enumerate(VARIANTS)] + [Member(1.0, 0.0, 0.02)]
    stops = iter([set(), {1, 4}, set()])  # two variants' members stop after epoch 2: the groups compact
    together = fit_members(task, base, members, teacher, lambda epoch, running, accuracies: next(stops))
    for i, (member, result) in enumerate(zip(members, together, strict=True)):
        alone = run_job(task, member_config(base, member), teacher if member.kd_weight > 0 else None)
        n = 2 if i in (1, 4) else 3
        assert max(abs(a - b) for a, b in zip(result.history, alone.history[:n], strict=True)) <= 1 / len(task.val)


def test_a_learned_temperature_is_recorded_per_epoch_and_never_decays(make_task, teacher_for):
    """θ sits in an optimizer group without weight decay: with no reversal it must not move at all."""
    task = make_task()
    teacher = teacher_for(task)
    base = _base(weight_decay=0.5)
    frozen = Member(2.0, 0.8, 0.05, "learned", {"t_init": 7.0, "grl_max": 0.0})
    moving = Member(2.0, 0.8, 0.05, "learned", {"t_init": 7.0, "grl_max": 5.0, "ramp": 0.1})
    alone = run_job(task, member_config(base, frozen), teacher)
    batched = fit_members(task, base, [frozen, moving], teacher)
    for result in (alone, batched[0]):
        assert result.learned["learned_temperature"] == pytest.approx([7.0] * 4, abs=1e-5)
    assert batched[1].learned["learned_temperature"][-1] != pytest.approx(7.0, abs=1e-3)


def test_a_variant_that_cannot_share_a_pass_is_refused_by_name(make_task, teacher_for):
    from tempopt.distill.losses import DistillLoss, register_loss
    from tempopt.distill.losses.kd import kd_soft
    from tempopt.errors import SpecError

    @register_loss
    class Lonely(DistillLoss):
        name = "lonely-test"
        batch_refusal = "it keeps a per-batch cache"

        def soft(self, student, teacher, targets, temperature, progress):
            return kd_soft(student, teacher, temperature)

    try:
        task = make_task()
        lonely = Member(2.0, 0.5, 0.01, "lonely-test")
        with pytest.raises(SpecError, match="it keeps a per-batch cache"):
            fit_members(task, _base(), [lonely, Member(1.0, 0.0, 0.02)], teacher_for(task))
        alone = fit_members(task, _base(), [lonely], teacher_for(task))  # a batch of one is never refused
        assert alone[0].epochs_run == 4
        assert loss_class("lonely-test") is Lonely
    finally:
        from tempopt.distill.losses import _registry

        _registry._LOSSES.pop("lonely-test")
