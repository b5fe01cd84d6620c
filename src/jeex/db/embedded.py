"""Embedded PostgreSQL from the ``pgserver`` package, kept in the data folder.

pgserver already coordinates several processes on one data folder (an
inter-process lock plus a list of handle pids on disk): the first process starts
the server, later ones reuse it, and the last one to exit stops it. We only add
a home for it and the conversion to our URL type.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

from sqlalchemy.engine import URL

from jeex.db.urls import to_sqlalchemy_url

logging.getLogger("pgserver").setLevel(logging.WARNING)
# pgserver keeps its lock in the user's runtime dir; without XDG_RUNTIME_DIR platformdirs
# warns and falls back to /tmp, which is what we want anyway.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


def start_embedded_postgres(data_dir: Path) -> URL:
    """Start (or join) the server in ``<data_dir>/pgdata``; return its superuser URL."""
    from pgserver.postgres_server import get_server

    data_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir / "pgdata", cleanup_mode="stop")
    return to_sqlalchemy_url(server.get_uri())
