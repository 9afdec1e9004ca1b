"""The study storage behind Optuna's gRPC storage proxy: ``grpc://HOST:PORT``.

One ``tempopt grpc-proxy`` process holds the database connections and serves the storage over
gRPC; any number of workers talk to it instead of each keeping its own connection pool. The
proxy carries the storage calls a study makes (studies, trials, params, values, attributes), so
``tempopt run``, ``launch``, ``status``, ``export`` and ``report`` work through it. What it does
not carry:

* heartbeats. Optuna's proxy has no heartbeat call, so a worker behind it records none, and
  :func:`tempopt.study.storage.heartbeats.fail_dead_trials` leaves its trials alone. A worker stopped with
  SIGTERM or Ctrl-C still fails and re-queues its own trial, and ``tempopt launch`` does the same
  for workers it saw die; a worker killed outright (SIGKILL, a lost node) leaves its trial
  RUNNING.
* retries. A database outage reaches the worker as a gRPC error, which the storage retries of
  :mod:`tempopt.study.storage.retries` do not recognise: the worker stops with that error.

This module opens a ``grpc://`` storage (a worker's side); :mod:`tempopt.study.storage.grpc_server` is
the proxy. Needs the ``grpc`` extra: ``pip install 'tempopt[grpc]'``.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from urllib.parse import urlsplit

import optuna

from tempopt.errors import StorageError
from tempopt.study.spec.defaults import DEFAULT_PORT
from tempopt.study.storage.userinfo import redact_url

log = logging.getLogger(__name__)

SCHEME = "grpc"
DEFAULT_CONNECT_TIMEOUT = 30.0


@dataclass(frozen=True)
class ProxyAddress:
    """Where a gRPC storage proxy listens."""

    host: str
    port: int

    @property
    def grpc_host(self) -> str:
        """The host as gRPC targets want it: IPv6 addresses in brackets."""
        return f"[{self.host}]" if ":" in self.host else self.host

    @property
    def target(self) -> str:
        """``host:port`` for gRPC."""
        return f"{self.grpc_host}:{self.port}"

    def __str__(self) -> str:
        return f"{SCHEME}://{self.target}"


def is_grpc_url(url: str) -> bool:
    """True for ``grpc://`` storage URLs."""
    return url.partition("://")[0].lower() == SCHEME and "://" in url


def parse_grpc_url(url: str) -> ProxyAddress:
    """The proxy address in ``grpc://HOST[:PORT]`` (port 13000 when left out).

    Raises:
        StorageError: not a grpc:// URL, or one with a password, path, query or bad port.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() != SCHEME:
        raise StorageError(f"storage {redact_url(url)!r} is not a gRPC proxy URL; use grpc://HOST:PORT.")
    if parts.username is not None or parts.password is not None:
        raise StorageError(
            "a grpc:// storage URL takes no user or password (the proxy has no login); give the "
            "database password to `tempopt grpc-proxy --storage` instead."
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise StorageError(
            f"storage {redact_url(url)!r} has a path or query; a gRPC proxy URL is just grpc://HOST:PORT."
        )
    try:
        port = parts.port
    except ValueError:
        port = -1
    if not parts.hostname or port == -1:
        raise StorageError(
            f"storage {redact_url(url)!r} needs a host and a port from 1 to 65535, e.g. grpc://127.0.0.1:13000."
        )
    return ProxyAddress(parts.hostname, port or DEFAULT_PORT)


def open_grpc_storage(url: str, timeout: float = DEFAULT_CONNECT_TIMEOUT) -> optuna.storages.GrpcStorageProxy:
    """A client of the gRPC storage proxy at ``url``, once the proxy answers.

    Args:
        url: ``grpc://HOST:PORT`` of a running ``tempopt grpc-proxy``.
        timeout: seconds to wait for the proxy to answer.

    Raises:
        StorageError: a bad URL, grpcio missing, or no proxy answering within ``timeout``.
    """
    address = parse_grpc_url(url)
    require_grpc()
    with warnings.catch_warnings():  # tempopt documents what the experimental proxy lacks
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        storage = optuna.storages.GrpcStorageProxy(host=address.grpc_host, port=address.port)
    try:
        storage.wait_server_ready(timeout=timeout)
    except ConnectionError as e:
        storage.close()
        raise StorageError(
            f"no gRPC storage proxy answered at {address} within {timeout:.0f} s; start one with "
            f"`tempopt grpc-proxy --storage DATABASE_URL --port {address.port}` or fix the address."
        ) from e
    log.info("storage %s: no heartbeats through the gRPC proxy; killed workers leave trials RUNNING", address)
    return storage


def is_unavailable(error: BaseException) -> bool:
    """True for the gRPC error of a proxy that is down or restarting: worth retrying.

    Errors of the database behind the proxy arrive as other status codes and are not.
    """
    code = getattr(error, "code", None)
    if not callable(code) or not type(error).__module__.startswith("grpc"):
        return False
    return getattr(code(), "name", None) == "UNAVAILABLE"


def require_grpc() -> None:
    """Raise StorageError, saying how to install them, without grpcio and protobuf."""
    try:
        import google.protobuf  # noqa: F401
        import grpc  # noqa: F401
    except ImportError as e:
        raise StorageError(
            f"grpc:// storages need grpcio and protobuf ({e.name} is missing); install them with "
            "`pip install 'tempopt[grpc]'`."
        ) from e
