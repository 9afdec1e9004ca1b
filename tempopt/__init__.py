"""tempopt: hyperparameter optimisation for knowledge distillation.

``Task`` and ``Augmentation`` are imported when first read: ``import tempopt`` (and so the
``tempopt`` command) does not import torch.
"""

from typing import TYPE_CHECKING

from tempopt.errors import TempoptError
from tempopt.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from tempopt.tasks import Augmentation, Task

__version__ = "0.1.0"

__all__ = ["Augmentation", "Task", "TempoptError", "__version__"]

__getattr__, __dir__ = lazy_exports(__name__, {"tempopt.tasks": ("Augmentation", "Task")})
