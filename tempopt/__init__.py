"""tempopt: hyperparameter optimisation for knowledge distillation."""

from tempopt.errors import TempoptError
from tempopt.tasks import Task

__version__ = "0.1.0"

__all__ = ["Task", "TempoptError", "__version__"]
