"""How much JEEX itself costs on top of the language model, measured side by side.

Why: a plan takes minutes and nearly all of it should be the model writing. Two ratios say
whether that holds, each measured against a reference run in the same process and minute, so
the machine's speed cancels out:

1. Pipeline overhead: the four steps (create_plan + execute_runs) against the scripted
   OpenAI-compatible server (tests/support/fakellm) at a fixed 3 ms a token, on a fresh PostgreSQL
   database. ``wall time of execute_runs / time spent inside LLM calls`` is what the database,
   prompts, repairs and checks add; goal <= 1.05.
2. Embedded model throughput: completion tokens per second of the bundled SmolLM2 through our
   stack (EmbeddedLLM + LLMClient.stream_text) against llama.cpp's own ``Llama`` in-process,
   same prompt, model, context, threads and sampling; goal ours/direct >= 0.9.

Run ``python bench/pipeline_overhead.py [--quick]`` (``make bench``); paste the printed table
into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import os
import platform
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL

from jeex.agents.prompts import Brief, section_messages
from jeex.config import Settings
from jeex.db.bootstrap import prepare
from jeex.db.session import Database
from jeex.db.urls import DatabaseUrls, to_sqlalchemy_url
from jeex.engine import plans as pipeline
from jeex.engine.observer import NullObserver
from jeex.engine.runner import RunnerDeps
from jeex.llm.client import LLMClient, Message
from jeex.llm.embedded import EmbeddedLLM, bundled_model_path
from jeex.logs import configure_logging
from jeex.projects.schemas import ProjectCreate
from jeex.runs import service as runs_service
from jeex.templates import load_template
from jeex.tenants.service import ensure_principal

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
APP_ROLE = "jeex_app"
#: Per-token latencies of the scripted server: 15 ms is the bundled model's speed here
#: (~66 tok/s, measured below), the case the goal is about; 3 ms is a fast remote model,
#: where JEEX's per-section database work weighs five times more.
LATENCIES = (0.015, 0.003)
MAX_TOKENS = 200
THREADS = os.cpu_count() or 1
IDEA = "A shared grocery list app for families"
AUDIENCE = "busy parents"
OVERHEAD_GOAL = 1.05
THROUGHPUT_GOAL = 0.9


def machine_facts() -> list[str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    model = bundled_model_path()
    import llama_cpp

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"cpus: {os.cpu_count()} ({cpu}); load average {load}",
        f"model: {model.name} ({model.stat().st_size / 1e6:.1f} MB)",
        f"python {platform.python_version()}, llama-cpp-python {llama_cpp.__version__}, "
        f"{platform.system()} {platform.release()}",
    ]


def other_llama_servers() -> list[int]:
    """Pids of llama.cpp servers not started by us: they would distort the throughput."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if b"-m\x00llama_cpp.server" in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
    return found


def _answers(url: URL) -> bool:
    engine = sa.create_engine(url, poolclass=sa.NullPool, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return True
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()


def server_url() -> tuple[URL, str]:
    configured = os.environ.get("JEEX_TEST_DATABASE_URL")
    if configured:
        return to_sqlalchemy_url(configured), "JEEX_TEST_DATABASE_URL"
    default = to_sqlalchemy_url(DEFAULT_SERVER)
    if _answers(default):
        return default, "127.0.0.1:5432"
    from jeex.db.embedded import start_embedded_postgres

    home = Path(tempfile.mkdtemp(prefix="jeex-bench-pg-"))
    # Registered first, so it runs after pgserver's own exit hook has stopped the server.
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    return start_embedded_postgres(home), "embedded pgserver"


@contextlib.contextmanager
def fresh_database() -> Iterator[tuple[DatabaseUrls, str]]:
    """A new database migrated by the real migrations, dropped afterwards."""
    server, where = server_url()
    name = f"jeex_bench_{secrets.token_hex(4)}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'create database "{name}"'))
    try:
        owner = server.set(database=name)
        urls = DatabaseUrls.derive(owner, app_user=APP_ROLE, app_password="")
        prepare(urls, Settings(database_url=owner.render_as_string(hide_password=False)))
        yield urls, where
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


@dataclass
class PipelineRun:
    wall: float
    llm_seconds: float
    calls: int
    sections: int
    tokens_out: int

    @property
    def ratio(self) -> float:
        return self.wall / self.llm_seconds


async def one_pipeline(urls: DatabaseUrls, base_url: str, data_dir: Path) -> PipelineRun:
    settings = Settings(
        data_dir=data_dir,
        database_url=urls.owner.render_as_string(hide_password=False),
        llm_base_url=base_url,
    )
    db = Database(urls.app, pool_size=settings.database_pool_size)
    llm = LLMClient(settings, base_url=base_url)
    try:
        slug = f"bench-{uuid.uuid4().hex[:12]}"
        principal = await ensure_principal(
            db, tenant_slug=slug, tenant_name=slug, email=f"{slug}@bench.invalid"
        )
        data = ProjectCreate(idea=IDEA, audience=AUDIENCE, language="en")
        _, runs = await pipeline.create_plan(
            db, principal, data, steps=pipeline.all_steps(), model=llm.model
        )
        deps = RunnerDeps(db=db, llm=llm, settings=settings)
        started = time.perf_counter()
        finished = await pipeline.execute_runs(deps, principal, runs, NullObserver())
        wall = time.perf_counter() - started
        assert [r.status for r in finished] == ["completed"] * 4, "a step did not complete"
        async with db.tenant_session(principal.tenant_id) as session:
            sections = [
                len(await runs_service.list_sections(session, run_id=r.id)) for r in finished
            ]
        return PipelineRun(
            wall=wall,
            llm_seconds=llm.call_seconds,
            calls=0,
            sections=sum(sections),
            tokens_out=sum(r.tokens_out for r in finished),
        )
    finally:
        await llm.close()
        await db.dispose()


def bench_pipeline(repeats: int, seconds_per_token: float) -> list[PipelineRun]:
    sys.path.insert(0, str(ROOT / "tests"))
    from support.fakellm import ScriptedLLM

    results: list[PipelineRun] = []
    with (
        fresh_database() as (urls, where),
        ScriptedLLM(seconds_per_token=seconds_per_token) as fake,
        tempfile.TemporaryDirectory(prefix="jeex-bench-") as tmp,
    ):
        print(f"database: fresh jeex_bench_* on {where}; LLM: scripted, {seconds_per_token}s/token")
        for i in range(repeats):
            fake.reset()
            result = asyncio.run(one_pipeline(urls, fake.base_url, Path(tmp)))
            result.calls = fake.calls
            results.append(result)
            print(
                f"  run {i + 1}: {result.sections} sections, {result.calls} LLM calls, "
                f"{result.tokens_out} tokens out; execute_runs {result.wall:.2f} s, "
                f"inside LLM calls {result.llm_seconds:.2f} s, ratio {result.ratio:.3f}"
            )
    return results


@dataclass
class Generation:
    tokens: int
    seconds: float
    text: str
    first_token: float  # seconds to the first content: prompt processing + one token

    @property
    def rate(self) -> float:
        return self.tokens / self.seconds


def section_prompts() -> list[list[Message]]:
    """Real step-1 section prompts (problem, audience, value...): one per repetition."""
    template = load_template("about")
    brief = Brief(idea=IDEA, audience=AUDIENCE, language="en", clarifications={})
    return [
        section_messages(
            agent="business_analyst",
            brief=brief,
            document_title="About Family Grocery List",
            section=spec,
            written_headings=[s.title for s in template.sections[:index]],
            context="",
        )
        for index, spec in enumerate(template.sections)
    ]


async def ours(llm: LLMClient, messages: list[Message]) -> Generation:
    """Tokens as the client counts them, over the seconds the client records for the call."""
    firsts: list[float] = []
    started = time.perf_counter()
    completion = await llm.stream_text(
        messages,
        max_tokens=MAX_TOKENS,
        on_delta=lambda _: firsts.append(time.perf_counter()) if not firsts else None,
    )
    assert not completion.usage.estimated, "token count was estimated, not tokenized"
    usage = completion.usage
    first = (firsts[0] if firsts else time.perf_counter()) - started
    return Generation(usage.tokens_out, usage.seconds, completion.text, first)


def direct(model: Any, messages: list[Message]) -> Generation:
    started = time.perf_counter()
    last = first = started
    parts: list[str] = []
    stream = model.create_chat_completion(
        messages=messages,
        max_tokens=MAX_TOKENS,
        stream=True,
        temperature=0.0,
        # llama_cpp.server's request defaults, so that both write the same text.
        top_p=0.95,
        top_k=40,
        min_p=0.05,
        repeat_penalty=1.1,
    )
    for chunk in stream:
        content = chunk["choices"][0]["delta"].get("content") if chunk["choices"] else None
        if content:
            last = time.perf_counter()
            first = first if parts else last
            parts.append(content)
    text = "".join(parts)
    # The same tokenizer call the server's /extras/tokenize makes for our side.
    tokens = len(model.tokenize(text.encode("utf-8"), special=True)) if text else 0
    return Generation(tokens, last - started, text, first - started)


async def bench_throughput(repeats: int) -> tuple[list[Generation], list[Generation]]:
    from llama_cpp import Llama

    mine: list[Generation] = []
    theirs: list[Generation] = []
    prompts = section_prompts()
    warmup: list[Message] = [{"role": "user", "content": "Say hello in one sentence."}]
    with tempfile.TemporaryDirectory(prefix="jeex-bench-") as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            llm_base_url=None,
            llm_threads=THREADS,
            llm_temperature=0.0,
        )
        with EmbeddedLLM(settings) as server:
            llm = LLMClient(settings, base_url=server.base_url)
            model = Llama(
                model_path=str(bundled_model_path()),
                n_ctx=settings.llm_context_size,
                n_threads=THREADS,
                verbose=False,
            )
            try:
                await ours(llm, warmup)  # first-call costs (page faults, buffers) on both sides
                direct(model, warmup)
                for i in range(repeats):
                    messages = prompts[i % len(prompts)]
                    # Never concurrent; alternate who goes first.
                    if i % 2 == 0:
                        mine.append(await ours(llm, messages))
                        theirs.append(direct(model, messages))
                    else:
                        theirs.append(direct(model, messages))
                        mine.append(await ours(llm, messages))
                    a, b = mine[-1], theirs[-1]
                    print(
                        f"  pair {i + 1}: ours {a.tokens} tokens / {a.seconds:.2f} s = "
                        f"{a.rate:.1f} tok/s (first token {a.first_token:.2f} s); "
                        f"direct {b.tokens} tokens / {b.seconds:.2f} s = {b.rate:.1f} tok/s "
                        f"(first token {b.first_token:.2f} s); "
                        f"same text: {'yes' if a.text == b.text else 'no'}"
                    )
            finally:
                await llm.close()
                model.close()
    return mine, theirs


def verdict(ok: bool) -> str:
    return "yes" if ok else "**no**"


def pipeline_row(repeats: int, latency: float) -> str:
    print(f"\n1. Pipeline overhead (steps 1-4), {latency * 1000:.0f} ms/token")
    runs = bench_pipeline(repeats, latency)
    ratio = statistics.median(r.ratio for r in runs)
    mid = min(runs, key=lambda r: abs(r.ratio - ratio))
    print(f"  median wall / LLM time: {ratio:.3f} (goal <= {OVERHEAD_GOAL})")
    return (
        f"| Pipeline overhead: steps 1-4, scripted LLM at "
        f"{latency * 1000:.0f} ms/token ({mid.sections} sections, {mid.calls} LLM calls) "
        f"| {mid.wall:.2f} s wall (execute_runs) | {mid.llm_seconds:.2f} s inside LLM calls "
        f"| {ratio:.3f} | <= {OVERHEAD_GOAL} | {verdict(ratio <= OVERHEAD_GOAL)} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="one repetition of each")
    parser.add_argument("--part", choices=("all", "pipeline", "model"), default="all")
    args = parser.parse_args()
    repeats = 1 if args.quick else 3
    configure_logging(Settings())
    print("JEEX benchmark, " + time.strftime("%Y-%m-%d %H:%M"))
    for fact in machine_facts():
        print("  " + fact)
    rows: list[str] = []

    if args.part in {"all", "pipeline"}:
        for latency in LATENCIES:
            rows.append(pipeline_row(repeats, latency))

    if args.part in {"all", "model"}:
        print(f"\n2. Embedded model throughput ({MAX_TOKENS} max tokens, {THREADS} threads)")
        others = other_llama_servers()
        if others:
            print(f"  WARNING: other llama.cpp servers are running ({others}); CPU is shared")
        mine, theirs = asyncio.run(bench_throughput(repeats))
        our_rate = statistics.median(g.rate for g in mine)
        their_rate = statistics.median(g.rate for g in theirs)
        ratio = our_rate / their_rate
        paired = statistics.median(a.rate / b.rate for a, b in zip(mine, theirs, strict=True))
        print(
            f"  median ours {our_rate:.1f} tok/s, direct {their_rate:.1f} tok/s, "
            f"ours/direct {ratio:.3f} (goal >= {THROUGHPUT_GOAL}); "
            f"median of the pairs' ratios {paired:.3f}"
        )
        rows.append(
            f"| Embedded model throughput: {bundled_model_path().name}, max_tokens {MAX_TOKENS}, "
            f"{THREADS} threads, temperature 0 | {our_rate:.1f} tok/s (EmbeddedLLM + LLMClient) "
            f"| {their_rate:.1f} tok/s (llama_cpp.Llama) | {ratio:.3f} "
            f"| >= {THROUGHPUT_GOAL} | {verdict(ratio >= THROUGHPUT_GOAL)} |"
        )

    print(f"\nMarkdown ({'quick, ' if args.quick else ''}medians of {repeats}):\n")
    print("| Measurement | Ours | Reference | Ratio | Goal | Met |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
