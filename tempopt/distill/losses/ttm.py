"""``ttm``: transformed teacher matching (Zheng & Yang, 2024).

Tempering both sides, as ``kd`` does, is read here differently: only the teacher is reshaped,
by a power transform ``p_t^γ / Σ p_t^γ = softmax(γ·z_t)``, and the student is matched at T = 1,
``KL(softmax(γ·z_t) ‖ softmax(z_s))``. With γ = 1/T that is ``kd``'s KL with an untempered
student, which adds a Rényi-entropy regulariser on the student to plain KD. There is no T² (the
student's logits are not divided). The weighted form (WTTM) scales each row's KL by the power
sum ``U_γ(p_t) = Σ p_t^γ``, larger for flatter teacher rows: uncertain samples weigh more.
"""

from __future__ import annotations

import torch
from torch import Tensor

from tempopt.distill.losses._base import Arg, DistillLoss, kl_rows, log_softmax, per_member
from tempopt.distill.losses._registry import register_loss


@register_loss
class TransformedTeacherKD(DistillLoss):
    """``KL(softmax(γ·t) ‖ softmax(s))``, each row weighted by ``Σ p_t^γ`` when ``weighted``."""

    name = "ttm"
    args = {
        "gamma": Arg(0.5, low=0.0, high=1.0, low_open=True, help="power of the teacher's probabilities"),
        "weighted": Arg("no", choices=("no", "yes"), help="weigh every row by the power sum (WTTM)"),
    }
    uses_temperature = False

    def soft(
        self, student: Tensor, teacher: Tensor, targets: Tensor | None, temperature: Tensor, progress: float
    ) -> Tensor:
        gamma = per_member(self.values["gamma"], student)  # (K, 1, 1)
        powered = gamma * log_softmax(teacher.detach()).unsqueeze(0)  # (K, N, C): γ·log p_t
        kl = kl_rows(log_softmax(powered), log_softmax(student))  # (K, N)
        power_sum = powered.logsumexp(-1).exp()  # (K, N): U_γ(p_t)
        weighted = (self.values["weighted"] == 1).unsqueeze(-1)  # (K, 1)
        return torch.where(weighted, power_sum * kl, kl).mean(-1)
