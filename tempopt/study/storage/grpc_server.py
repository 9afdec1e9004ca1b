"""The other side of :mod:`tempopt.study.storage.grpc_client`: ``tempopt grpc-proxy`` serves a database's study
storage over gRPC to the workers that open ``grpc://HOST:PORT``.

Needs the ``grpc`` extra: ``pip install 'tempopt[grpc]'``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import optuna

from tempopt.errors import HostError, StorageError
from tempopt.study.optuna_internals import add_storage_service
from tempopt.study.spec.defaults import DEFAULT_PORT, DEFAULT_THREADS
from tempopt.study.storage.grpc_client import ProxyAddress, is_grpc_url, require_grpc
from tempopt.study.storage.opening import FailureHandling, open_storage, redact_url

if TYPE_CHECKING:
    import grpc as grpc_lib


@dataclass
class GrpcProxy:
    """A running gRPC storage proxy (see :func:`start_grpc_proxy`)."""

    server: grpc_lib.Server
    address: ProxyAddress
    storage_url: str

    def stop(self, grace: float = 10.0) -> None:
        """Stop taking calls, let those in flight finish for up to ``grace`` seconds."""
        self.server.stop(grace).wait()


def start_grpc_proxy(
    storage_url: str,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    threads: int = DEFAULT_THREADS,
) -> GrpcProxy:
    """Serve the database at ``storage_url`` over gRPC on ``host:port`` (in background threads).

    The proxy holds one cached Optuna storage on the database, as Optuna recommends, with
    heartbeats off: no client can send one through the proxy.

    Args:
        storage_url: SQLAlchemy URL of the database (not another ``grpc://`` proxy).
        host: address to listen on; the proxy has no login and no TLS.
        port: port to listen on; 0 picks a free one (see :attr:`GrpcProxy.address`).
        threads: calls served at once.

    Raises:
        StorageError: grpcio missing, a grpc:// ``storage_url``, or the database unreachable.
        HostError: ``host:port`` cannot be bound.
    """
    if is_grpc_url(storage_url):
        raise StorageError(
            f"the proxy's --storage {redact_url(storage_url)!r} is itself a gRPC proxy; give the database URL "
            "(postgresql://…, mysql://… or sqlite:///…)."
        )
    require_grpc()
    import grpc

    storage = optuna.storages.get_storage(open_storage(storage_url, failure=FailureHandling(None, None, 0)))
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="grpc-proxy")
    server = grpc.server(pool, options=[("grpc.so_reuseport", 0)])
    add_storage_service(storage, server)
    wanted = ProxyAddress(host, port)
    try:
        bound = server.add_insecure_port(wanted.target)
    except RuntimeError as e:  # grpcio raises on a port in use or an unknown host
        bound = 0
        reason = str(e)
    else:
        reason = "address in use or unknown host"
    if not bound:
        raise HostError(f"cannot listen on {wanted.target} ({reason}); pass --port with a free port.")
    server.start()
    return GrpcProxy(server, ProxyAddress(host, bound), redact_url(storage_url))
