"""K students of one architecture as one stack: each part vectorised over a leading member dim.

The training loop (:mod:`tempopt.distill.loop`) trains K ≥ 1 members with these, each member
exactly as it would train alone:

- :mod:`._students`: :class:`StudentStack`, the members' params and buffers stacked, one forward;
- :mod:`._dropout`: dropout masks drawn from the job's generator, the same alone and in a stack;
- :mod:`._loss`: :class:`MemberLoss`, every member's loss, members grouped by loss variant;
- :mod:`._optimizer`: :class:`StackedOptimizer`, the AdamW or SGD step with a learning rate per
  member, and the lr schedule (:func:`lr_factor`).
"""

from tempopt.distill.stack._dropout import DropoutMasks, MemberDropout
from tempopt.distill.stack._loss import MemberLoss
from tempopt.distill.stack._optimizer import StackedOptimizer, lr_factor
from tempopt.distill.stack._students import StudentStack, stacked_forward

__all__ = [
    "DropoutMasks",
    "MemberDropout",
    "MemberLoss",
    "StackedOptimizer",
    "StudentStack",
    "lr_factor",
    "stacked_forward",
]
