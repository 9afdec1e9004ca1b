"""``tempopt grpc-proxy``: one process holds the database connections for many workers."""

from __future__ import annotations

import typer

from tempopt.cli.app import command, console, out
from tempopt.cli.study_commands import StorageOption, storage_url
from tempopt.study.spec.defaults import DEFAULT_PORT, DEFAULT_THREADS

WILDCARDS = ("0.0.0.0", "::", "[::]")


@command("grpc-proxy")
def grpc_proxy_command(
    storage: str | None = StorageOption,
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address to listen on; 0.0.0.0 lets other hosts in (no login, no TLS)."
    ),
    port: int = typer.Option(DEFAULT_PORT, "--port", min=0, max=65535, help="Port to listen on; 0 picks a free one."),
    threads: int = typer.Option(DEFAULT_THREADS, "--threads", min=1, help="Storage calls served at once."),
) -> None:
    """Serve the study storage over gRPC to workers run with --storage grpc://HOST:PORT."""
    from tempopt.analysis import is_exposed
    from tempopt.stopping import StopFlag
    from tempopt.study.storage.grpc_server import start_grpc_proxy

    url = storage_url(storage)
    if is_exposed(host):
        console.print(
            f"[bold yellow]warning:[/] anyone who reaches {host}:{port} can read, change and delete the "
            "studies (the proxy has no login and no TLS); keep it on a private network.",
            highlight=False,
            soft_wrap=True,
        )
    with StopFlag().installed() as stop:
        proxy = start_grpc_proxy(url, host=host, port=port, threads=threads)
        reach = f"grpc://HOSTNAME:{proxy.address.port}" if host in WILDCARDS else str(proxy.address)
        out.print(
            f"gRPC storage proxy for {proxy.storage_url} listening on {proxy.address}; run workers with "
            f"--storage {reach} (heartbeats do not pass the proxy). Ctrl-C to stop.",
            highlight=False,
            soft_wrap=True,
        )
        try:
            while not stop.wait(3600):
                pass
        finally:
            proxy.stop()
    out.print("gRPC storage proxy stopped.", highlight=False)
