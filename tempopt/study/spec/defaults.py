"""The defaults and limits the command line shows in its help, in a module that imports nothing.

``tempopt --help`` reads them without importing optuna, SQLAlchemy or pydantic; the modules
that use them (storage, the study file, the gRPC proxy) import them from here.
"""

DEFAULT_STORAGE = "sqlite:///tempopt.db"
"""The study storage when neither ``--storage``, ``$TEMPOPT_STORAGE`` nor the study file names one."""

MAX_TRIALS = 1_000_000
"""The most trials a study may ask for (a study of more would never end; queuing its baseline
trials alone would exhaust memory)."""

SEED_LIMIT = 2**62
"""Seeds stay below this so that the per-trial and per-worker seeds derived from them fit in int64."""

DEFAULT_PORT = 13000
"""The gRPC storage proxy's port."""

DEFAULT_THREADS = 10
"""Storage calls the gRPC storage proxy serves at once."""
