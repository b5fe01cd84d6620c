"""The embedded LLM for real: the bundled SmolLM2 served by llama.cpp, supervised by JEEX.

Nothing is faked here: the server is the real ``llama_cpp.server`` child process and the client
is the real `LLMClient`, so this is what a user without an LLM endpoint gets.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from jeex.config import Settings
from jeex.errors import LLMUnavailable
from jeex.llm.client import LLMClient
from jeex.llm.embedded import EmbeddedLLM, bundled_model_path

pytestmark = pytest.mark.slow

PROMPT = [{"role": "user", "content": "Say hello to the team in one short sentence."}]
SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}


def make_settings(data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url="postgresql://x@127.0.0.1/x",
        llm_base_url=None,
        llm_context_size=2048,
        llm_max_retries=1,
        llm_retry_max_wait_seconds=0.1,
        llm_timeout_seconds=60,
        llm_startup_timeout_seconds=90,
    )


def pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedLLM]:
    with EmbeddedLLM(make_settings(tmp_path_factory.mktemp("embedded"))) as server:
        yield server


@pytest.fixture
async def client(embedded: EmbeddedLLM) -> AsyncIterator[LLMClient]:
    llm = LLMClient(embedded.settings, base_url=embedded.base_url)
    yield llm
    await llm.close()


def test_bundled_model_is_a_gguf_file() -> None:
    path = bundled_model_path()

    assert path.is_file()
    with path.open("rb") as model:
        assert model.read(4) == b"GGUF"


def test_server_answers_models_in_its_own_session(embedded: EmbeddedLLM) -> None:
    assert embedded.process is not None
    response = httpx.get(f"{embedded.base_url}/models", timeout=10)

    assert response.status_code == 200
    assert embedded.settings.llm_model in {m["id"] for m in response.json()["data"]}
    # A terminal Ctrl-C goes to the foreground process group: jeex, not the server.
    assert os.getsid(embedded.process.pid) != os.getsid(0)
    assert embedded.base_url.startswith("http://127.0.0.1:")
    assert embedded.settings.structured_mode == "json_object_schema"


async def test_streamed_answer_has_text_and_measured_usage(client: LLMClient) -> None:
    deltas: list[str] = []

    result = await client.stream_text(PROMPT, max_tokens=32, on_delta=deltas.append)

    assert result.text.strip()
    assert "".join(deltas) == result.text
    assert result.finish_reason in {"stop", "length"}
    assert result.usage.tokens_in > 0
    assert result.usage.tokens_out > 0
    assert result.usage.estimated is False


async def test_json_answer_follows_the_schema(client: LLMClient) -> None:
    result = await client.complete_json(PROMPT, schema=SCHEMA, name="check", max_tokens=32)

    answer = json.loads(result.text)
    assert isinstance(answer, dict)
    assert isinstance(answer["ok"], bool)
    assert result.usage.tokens_out > 0
    assert result.usage.estimated is False


async def test_killed_server_is_restarted_and_stop_leaves_no_process(tmp_path: Path) -> None:
    server = EmbeddedLLM(make_settings(tmp_path)).start()
    llm = LLMClient(server.settings, base_url=server.base_url)
    try:
        assert server.process is not None
        first = server.process.pid
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while server.is_running():
            assert time.monotonic() < deadline, "the killed server still looks alive"
            time.sleep(0.05)

        server.ensure_running()

        assert server.is_running()
        assert server.process.pid != first
        result = await llm.stream_text(PROMPT, max_tokens=16)
        assert result.text.strip()
        second = server.process.pid
    finally:
        await llm.close()
        server.stop()

    assert server.process is None
    assert not server.is_running()
    assert not pid_exists(second)
    assert (tmp_path / "logs" / "llama-server.log").is_file()


def test_missing_model_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "model.gguf"
    server = EmbeddedLLM(make_settings(tmp_path), model_path=missing)

    with pytest.raises(LLMUnavailable, match="model file is missing") as caught:
        server.start()

    assert str(missing) in str(caught.value)
    assert server.process is None


def test_unloadable_model_file_is_reported_with_the_log(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a model at all")
    server = EmbeddedLLM(make_settings(tmp_path), model_path=broken)

    with pytest.raises(LLMUnavailable, match="exited while starting") as caught:
        server.start()

    assert str(server.log_path) in str(caught.value)
    assert not server.is_running()
