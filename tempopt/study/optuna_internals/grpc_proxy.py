"""Optuna's gRPC storage service on a server tempopt builds itself.

Optuna's own ``run_grpc_proxy_server`` blocks, cannot report the bound port and lets a second
proxy share the port silently (SO_REUSEPORT); its two building blocks are used instead.
"""

from __future__ import annotations

from typing import Any


def add_storage_service(storage: Any, server: Any) -> None:
    """Serve ``storage`` (an Optuna storage) on ``server`` (a ``grpc.Server``), as Optuna's proxy does."""
    from optuna.storages._grpc.auto_generated.api_pb2_grpc import add_StorageServiceServicer_to_server
    from optuna.storages._grpc.servicer import OptunaStorageProxyService

    add_StorageServiceServicer_to_server(OptunaStorageProxyService(storage), server)
