"""Taking the embedded PostgreSQL of a test down and up again, as an outage would."""

from __future__ import annotations

import contextlib
import shlex
from pathlib import Path


def stop_embedded_postgres(pgdata: Path) -> None:
    """A fast shutdown: every connection is dropped and new ones are refused."""
    from pgserver._commands import pg_ctl
    from pgserver.postgres_server import PostgresServer

    server = PostgresServer._instances.get(pgdata)
    user = server.system_user if server is not None else None  # root runs it as 'pgserver'
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user, timeout=60)


def start_embedded_postgres_again(pgdata: Path) -> None:
    """Start a server ``stop_embedded_postgres`` stopped, on the same socket and log."""
    from pgserver._commands import pg_ctl
    from pgserver.postgres_server import PostgresServer

    server = PostgresServer._instances[pgdata]
    opts = shlex.split((pgdata / "postmaster.opts").read_text())
    socket_dir = opts[opts.index("-k") + 1]
    pg_ctl(["-w", "-o", '-h ""', "-o", f"-k {socket_dir}", "-l", str(server.log), "start"],
           pgdata=pgdata, user=server.system_user, timeout=60)  # fmt: skip


def stop_quietly(pgdata: Path) -> None:
    """pgserver does not know a restarted server: stop it, or it outlives the test."""
    with contextlib.suppress(Exception):
        stop_embedded_postgres(pgdata)
