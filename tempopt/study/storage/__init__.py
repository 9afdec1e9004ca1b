"""Where studies live: opening a storage URL (SQLite, PostgreSQL, MariaDB/MySQL, or ``grpc://``
through ``tempopt grpc-proxy``), the SQL engine under it, retries while the database is
unreachable, heartbeats of running trials, faults no retry fixes, secrets in URLs, and the
artifact store.

- ``opening``: URLs to storages; ``sql_setup``: the storage class and its engine;
- ``grpc_client`` / ``grpc_server``: Optuna's gRPC storage proxy, both sides;
- ``retries``: storage calls tried again through an outage; ``heartbeats``: failing the trials of
  dead workers; ``faults``: errors that stay; ``userinfo``: the ``user:password@`` of a URL;
- ``artifacts``: files attached to studies and trials.

The fast SQL paths under Optuna's storage API are :mod:`tempopt.study.optuna_internals`.
Each name is imported when first read (:mod:`tempopt.lazy_exports`).
"""

from typing import TYPE_CHECKING

from tempopt.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from tempopt.study.storage.opening import (
        DEFAULT_STORAGE,
        FailureHandling,
        load_study,
        open_existing_storage,
        open_storage,
    )
    from tempopt.study.storage.retries import retrying
    from tempopt.study.storage.userinfo import redact_url

__all__ = [
    "DEFAULT_STORAGE",
    "FailureHandling",
    "load_study",
    "open_existing_storage",
    "open_storage",
    "redact_url",
    "retrying",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        ".opening": ("DEFAULT_STORAGE", "FailureHandling", "load_study", "open_existing_storage", "open_storage"),
        ".retries": ("retrying",),
        ".userinfo": ("redact_url",),
    },
)
