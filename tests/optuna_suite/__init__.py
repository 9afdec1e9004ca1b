"""Optuna's own storage tests against tempopt's storage class (``python -m tests.optuna_suite``)."""
