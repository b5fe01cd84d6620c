"""Where secret settings come from besides the environment: files, and Vault KV v2.

Every secret setting (``SECRET_FIELDS``) can be given three ways, the first one set wins:

1. ``JEEX_<NAME>`` in the environment (or ``.env``);
2. ``JEEX_<NAME>_FILE``: a path whose content is the value (Docker and Kubernetes secrets
   are files; one trailing newline is dropped);
3. Vault (or OpenBao) KV v2, when ``JEEX_VAULT_ADDR`` is set: the field ``<name>`` of the
   secret at ``JEEX_VAULT_PATH`` (``jeex``) under the mount ``JEEX_VAULT_MOUNT``
   (``secret``), read with a token (``JEEX_VAULT_TOKEN[_FILE]``) or an AppRole login
   (``JEEX_VAULT_ROLE_ID`` and ``JEEX_VAULT_SECRET_ID[_FILE]``).

Values are read when the settings are built, that is at process start. A secret the LLM
endpoint refuses (401) is read again from its file or from Vault (``current``), so a
rotated LLM key takes effect without a restart; the other secrets take effect when the
process restarts (a rolling restart in Kubernetes). Every value read
is remembered by ``redact``, which the log processor and the error bodies apply, so a
secret never reaches a log line or an HTTP answer even when a library puts it in a message.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import hvac
import requests
from hvac import exceptions as hvac_errors
from pydantic.fields import FieldInfo
from pydantic_settings import PydanticBaseSettingsSource

from jeex.errors import InvalidInput

PREFIX = "JEEX_"
#: Settings that may hold a secret; each also reads ``JEEX_<NAME>_FILE`` and Vault.
SECRET_FIELDS = (
    "database_url",
    "database_app_password",
    "llm_api_key",
    "auth_secret_key",
    "embeddings_api_key",
    "qdrant_api_key",
    "redis_url",
    "smtp_password",
)
#: The Vault credentials themselves can come from files too (never from Vault).
VAULT_CREDENTIALS = ("vault_token", "vault_secret_id")
#: Shorter values are not redacted: they would blank ordinary words out of messages.
MIN_REDACTED_CHARS = 8
MASK = "***"

_known: set[str] = set()
_lock = threading.Lock()


class SecretUnavailable(InvalidInput):
    """A configured secret source cannot be read; the message never holds a secret."""

    exit_code = 1


def remember(value: str) -> None:
    """Redact ``value`` from every log line and error body from now on."""
    if len(value) >= MIN_REDACTED_CHARS:
        with _lock:
            _known.add(value)


def redact(text: str) -> str:
    """``text`` with every known secret replaced by ``***`` (longest first)."""
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for value in known:
        if value in text:
            text = text.replace(value, MASK)
    return text


def _env(name: str) -> str | None:
    return os.environ.get(f"{PREFIX}{name.upper()}") or None


def read_file_setting(name: str) -> str | None:
    """The content of ``JEEX_<NAME>_FILE``, or None when that variable is unset."""
    path = _env(f"{name}_file")
    if path is None:
        return None
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SecretUnavailable(
            f"cannot read {PREFIX}{name.upper()}_FILE={path}: {exc.strerror or exc}"
        ) from None
    return text.removesuffix("\n")


class FileSecrets(PydanticBaseSettingsSource):
    """``JEEX_<NAME>_FILE`` for every secret setting and for the Vault credentials."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        found = {}
        for name in (*SECRET_FIELDS, *VAULT_CREDENTIALS):
            value = read_file_setting(name)
            if value is not None:
                found[name] = value
        return found


class VaultSecrets(PydanticBaseSettingsSource):
    """The secret settings stored in Vault KV v2, when ``JEEX_VAULT_ADDR`` is set."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return read_vault()


def read_vault() -> dict[str, str]:
    """The secret settings Vault holds now; {} when ``JEEX_VAULT_ADDR`` is unset."""
    address = _env("vault_addr")
    if address is None:
        return {}
    mount = _env("vault_mount") or "secret"
    path = _env("vault_path") or "jeex"
    try:
        client = _vault_client(address)
        read = client.secrets.kv.v2.read_secret_version(
            path=path, mount_point=mount, raise_on_deleted_version=True
        )
    except (hvac_errors.VaultError, requests.RequestException) as exc:
        reason = redact(str(exc).strip().splitlines()[0] if str(exc).strip() else "")
        raise SecretUnavailable(
            f"cannot read secrets from Vault at {address} ({mount}/{path}): "
            f"{type(exc).__name__}{': ' + reason if reason else ''}"
        ) from None
    data = read["data"]["data"]
    return {name: str(data[name]) for name in SECRET_FIELDS if data.get(name) is not None}


def rotatable(name: str) -> bool:
    """Whether ``current(name)`` can see a new value: the secret comes from a file or from
    Vault, not from the process's environment (which never changes under it)."""
    return _env(name) is None and (
        _env(f"{name}_file") is not None or _env("vault_addr") is not None
    )


def current(name: str) -> str | None:
    """The secret as its source holds it now (the file read again, Vault asked again), for
    a caller whose copy was refused; remembered for redaction like every value read.
    Raises ``SecretUnavailable`` when the source cannot be read."""
    value = _env(name) or read_file_setting(name)
    if value is None:
        value = read_vault().get(name)
    if value is not None:
        remember(value)
    return value


def _vault_client(address: str) -> hvac.Client:
    token = _env("vault_token") or read_file_setting("vault_token")
    role_id = _env("vault_role_id")
    if token is None and role_id is None:
        raise SecretUnavailable(
            f"{PREFIX}VAULT_ADDR is set but neither {PREFIX}VAULT_TOKEN[_FILE] nor "
            f"{PREFIX}VAULT_ROLE_ID (with {PREFIX}VAULT_SECRET_ID[_FILE]) is"
        )
    client = hvac.Client(url=address, token=token, timeout=10)
    if token is None:
        secret_id = _env("vault_secret_id") or read_file_setting("vault_secret_id") or ""
        remember(secret_id)
        client.auth.approle.login(role_id=role_id, secret_id=secret_id)
    else:
        remember(token)
    return client
