"""tempopt: hyperparameter optimisation for knowledge distillation."""

from tempopt.errors import TempoptError
from tempopt.tasks import Augmentation, Task

__version__ = "0.1.0"

__all__ = ["Augmentation", "Task", "TempoptError", "__version__"]
