"""End to end with the real bundled model: embedded PostgreSQL, embedded llama.cpp, no network.

Slow (minutes on 2 cores); CI runs it. The plan test writes step 1 and step 4 with the
smallest plan (three epics: infrastructure, one feature, testing) and short sections, so
it fits the suite's time budget; the structure must hold anyway. All four steps on the
real model are what ``make plan`` runs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
import zipfile
from pathlib import Path

import psutil
import pytest
import yaml

# One llama.cpp server at a time: both tests on the same xdist worker, one after the other.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("bundled-model")]


def _front_matter(text: str) -> dict[str, object]:
    assert text.startswith("---\n"), text[:80]
    head, _, body = text[4:].partition("\n---\n")
    meta = yaml.safe_load(head)
    assert isinstance(meta, dict)
    assert body.strip(), "document body is empty"
    return meta


def test_jeex_plan_with_the_bundled_model(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JEEX_")}
    alias = f"smollm2-e2e-{uuid.uuid4().hex[:8]}"  # finds our llama.cpp server by its cmdline
    env.update(
        JEEX_DATA_DIR=str(tmp_path / "data"),
        JEEX_LLM_MAX_SECTION_TOKENS="96",
        JEEX_LLM_CONTEXT_SIZE="1024",
        JEEX_LLM_MODEL=alias,
        JEEX_PLAN_MAX_EPICS="3",
        # One llama.cpp thread: the other xdist worker keeps a core busy, and two threads
        # that wait for each other at every token then ran 5x slower (755 s in the suite,
        # 147 s alone); one thread beside a core kept busy took 209 s.
        JEEX_LLM_THREADS="1",
    )
    out = tmp_path / "plan"
    result = subprocess.run(
        [sys.executable, "-m", "jeex", "plan", "A shared grocery list app for families",
         "--audience", "busy parents", "--language", "en", "--out", str(out), "--json",
         "--steps", "1,4"],
        env=env, capture_output=True, text=True, timeout=1500, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    root = Path(report["out_dir"])
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.md"))
    assert {"README.md", "docs/about.md", "docs/plans/overview.md"} <= set(files)
    epics = [f for f in files if f.startswith("docs/plans/") and f[11:13].isdigit()]
    assert [int(f[11:13]) for f in epics] == list(range(1, len(epics) + 1))
    assert len(epics) == 3
    for name in files:
        meta = _front_matter((root / name).read_text())
        assert meta["language"] == "en"
        assert meta["model"]
    with zipfile.ZipFile(report["zip_path"]) as archive:
        assert len(archive.namelist()) == len(files)
    log = (tmp_path / "data" / "logs" / "llama-server.log").read_text()
    assert "Uvicorn running on http://127.0.0.1" in log
    leftovers = [
        p.info["cmdline"]
        for p in psutil.process_iter(["cmdline"])
        if alias in " ".join(p.info["cmdline"] or [])
        or str(tmp_path) in " ".join(p.info["cmdline"] or [])
    ]
    assert leftovers == [], "an embedded server outlived jeex"


def _leftovers(*markers: str) -> list[list[str]]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if any(marker in cmdline for marker in markers):
            found.append(process.info["cmdline"])
    return found


def test_ctrl_c_cancels_and_stops_every_embedded_server(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JEEX_")}
    alias = f"smollm2-e2e-{uuid.uuid4().hex[:8]}"
    env.update(JEEX_DATA_DIR=str(tmp_path / "data"), JEEX_LLM_MODEL=alias, JEEX_LLM_THREADS="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "jeex", "plan", "A shared grocery list app for families",
         "--out", str(tmp_path / "plan"), "--quiet"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    log = tmp_path / "data" / "logs" / "llama-server.log"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        if log.exists() and "POST /v1/chat/completions" in log.read_text():
            break
        time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=240)  # the exit, not its speed, is the point
    assert process.returncode == 130, stderr[-2000:]
    assert _leftovers(alias, str(tmp_path)) == []
    listing = subprocess.run(
        [sys.executable, "-m", "jeex", "runs", "list", "--json"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    statuses = [run["status"] for run in json.loads(listing.stdout)]
    assert statuses[0] == "cancelled"
    assert _leftovers(str(tmp_path)) == []
