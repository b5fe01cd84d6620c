"""The key that signs access tokens: from settings, or kept in the embedded data folder."""

from __future__ import annotations

import contextlib
import os
import secrets

from jeex.config import Settings
from jeex.errors import InvalidInput

SECRET_FILE = "auth-secret"


def signing_key(settings: Settings) -> str:
    """Every API process of one deployment must sign with the same key.

    The embedded shape has one data folder, so a random key is created there once
    (mode 0600). The distributed shape must be given one: a per-process random key
    would make each process reject the others' tokens.
    """
    if settings.auth_secret_key is not None:
        return settings.auth_secret_key.get_secret_value()
    if not settings.embedded_database:
        raise InvalidInput("set JEEX_AUTH_SECRET_KEY (32+ characters) to serve the API")
    path = settings.data_dir / SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written under a temporary name, then linked: a second process starting at the
        # same moment either wins the link or reads the complete winner.
        scratch = path.with_name(f".{SECRET_FILE}.{os.getpid()}")
        descriptor = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        with contextlib.suppress(FileExistsError):
            os.link(scratch, path)
        scratch.unlink()
    return path.read_text().strip()
