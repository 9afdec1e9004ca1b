"""What a study found, computed once into one plain object for the report (:class:`StudyAnalysis`).

Beside the verdict and the importances it holds how accuracy moves with the temperature
(:mod:`._sensitivity`), the loss variants compared (:mod:`._variants`), the Pareto front of a
multi-objective study (:mod:`._front`) and what to try next (:mod:`._advice`).
"""

from tempopt.analysis.findings._sensitivity import Bin, InteractionGrid, TemperatureSensitivity, temperature_sensitivity
from tempopt.analysis.findings._study_analysis import StudyAnalysis, analyse_study

__all__ = [
    "Bin",
    "InteractionGrid",
    "StudyAnalysis",
    "TemperatureSensitivity",
    "analyse_study",
    "temperature_sensitivity",
]
