"""Recovery times: a worker SIGKILLed mid-section, and database outages short and long.

Why: a killed worker's run must move again within 60 s with the default settings, and a
worker must outlive a database outage of any length without a restart.

``--outage SECONDS`` (repeatable) measures outages instead: an embedded PostgreSQL of its
own, one ``jeex worker`` with the default settings, the database stopped in the middle of
a section for SECONDS and started again; the clock starts when the database answers again
and stops at the run's next finished section, then at the run's completion.

The SIGKILL mode: Two real ``jeex worker`` processes, the scripted LLM server at 20 ms a token, a
fresh database; the worker executing the run is killed in the middle of a section, and the
clock stops at the run's ``run.resumed`` event (written when the other worker takes it).

Run ``python bench/crash_recovery.py [--stall-seconds 30] [--database-url …]``, or
``python bench/crash_recovery.py --outage 10 --outage 330``.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from jeex.db.urls import to_sqlalchemy_url  # noqa: E402
from support.fakellm import ScriptedLLM  # noqa: E402
from support.outage import (  # noqa: E402
    start_embedded_postgres_again,
    stop_embedded_postgres,
    stop_quietly,
)


def _wait(probe: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not probe():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stall-seconds", default="30")
    parser.add_argument("--shutdown-seconds", default="15")
    parser.add_argument("--outage", type=float, action="append", default=[],
                        help="measure a database outage of this many seconds instead")  # fmt: skip
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "JEEX_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1/postgres"
        ),
    )
    args = parser.parse_args()
    if args.outage:
        for seconds in args.outage:
            outage(seconds)
        return
    server = to_sqlalchemy_url(args.database_url)
    name = f"jeex_bench_{secrets.token_hex(3)}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'create database "{name}"'))
    owner = sa.create_engine(server.set(database=name), poolclass=sa.NullPool)

    def scalar(sql: str, **params: object) -> object:
        with owner.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()

    procs: list[subprocess.Popen[bytes]] = []
    try:
        with ScriptedLLM(seconds_per_token=0.02) as llm:
            env = {k: v for k, v in os.environ.items() if not k.startswith("JEEX_")}
            env.update(
                JEEX_DATABASE_URL=server.set(database=name).render_as_string(hide_password=False),
                JEEX_LLM_BASE_URL=llm.base_url,
                JEEX_DATA_DIR=f"/tmp/{name}",
                JEEX_QUEUE_STALL_SECONDS=args.stall_seconds,
                JEEX_QUEUE_SHUTDOWN_SECONDS=args.shutdown_seconds,
            )
            jeex = [sys.executable, "-m", "jeex"]
            out = subprocess.run([*jeex, "plan", "A shared grocery list app", "--detach",
                                  "--steps", "1", "--json"], env=env, check=True,
                                 capture_output=True, text=True).stdout  # fmt: skip
            run_id = out.split('"run_ids": [')[1].split('"')[1]
            workers = "select count(*) from procrastinate_workers"

            def start() -> subprocess.Popen[bytes]:
                before = scalar(workers)
                proc = subprocess.Popen([*jeex, "worker"], env=env, stderr=subprocess.DEVNULL)
                procs.append(proc)
                _wait(lambda: scalar(workers) != before, 60)
                return proc

            first = start()
            running = "select count(*) from run_sections where run_id = :r and status = 'running'"
            done = "select count(*) from run_sections where run_id = :r and status = 'completed'"
            _wait(lambda: scalar(done, r=run_id) and scalar(running, r=run_id), 120)
            start()
            _wait(lambda: scalar(running, r=run_id), 60)
            first.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            resumed = "select count(*) from events where run_id = :r and type = 'run.resumed'"
            _wait(lambda: scalar(resumed, r=run_id), 300)
            seconds = time.monotonic() - killed
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
        owner.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()
    print(
        f"stall threshold {args.stall_seconds} s: SIGKILL → run progressing again in "
        f"{seconds:.1f} s (goal ≤ 60 s)"
    )


def outage(down_seconds: float) -> None:
    """One database outage of ``down_seconds`` under a run, on the default settings."""
    import tempfile

    from jeex.db.embedded import start_embedded_postgres

    data = Path(tempfile.mkdtemp(prefix="jeex-outage-")) / "data"
    pgdata = data / "pgdata"
    server = start_embedded_postgres(data)
    owner = sa.create_engine(server.set(database="jeex"), poolclass=sa.NullPool)

    def scalar(sql: str, **params: object) -> object:
        with owner.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()

    proc: subprocess.Popen[bytes] | None = None
    try:
        with ScriptedLLM(seconds_per_token=0.02) as llm:
            env = {k: v for k, v in os.environ.items() if not k.startswith("JEEX_")}
            env.update(JEEX_DATA_DIR=str(data), JEEX_LLM_BASE_URL=llm.base_url)
            jeex = [sys.executable, "-m", "jeex"]
            out = subprocess.run([*jeex, "plan", "A shared grocery list app", "--detach",
                                  "--steps", "1", "--json"], env=env, check=True,
                                 capture_output=True, text=True).stdout  # fmt: skip
            run_id = out.split('"run_ids": [')[1].split('"')[1]
            proc = subprocess.Popen([*jeex, "worker"], env=env, stderr=subprocess.DEVNULL)
            running = "select count(*) from run_sections where run_id = :r and status = 'running'"
            done = "select count(*) from run_sections where run_id = :r and status = 'completed'"
            _wait(lambda: scalar(done, r=run_id) and scalar(running, r=run_id), 120)
            before = scalar(done, r=run_id)
            stop_embedded_postgres(pgdata)
            time.sleep(down_seconds)
            start_embedded_postgres_again(pgdata)
            back = time.monotonic()
            _wait(lambda: (scalar(done, r=run_id) or 0) > before, 3600)  # type: ignore[operator]
            progressing = time.monotonic() - back
            status = "select status from runs where id = :r"
            _wait(lambda: scalar(status, r=run_id) in ("completed", "failed"), 3600)
            completed = time.monotonic() - back
            outcome = scalar(status, r=run_id)
            versions = scalar("select count(*) from document_versions where run_id = :r", r=run_id)
            alive = proc.poll() is None
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
        owner.dispose()
        stop_quietly(pgdata)
    print(
        f"database down {down_seconds:g} s: next section {progressing:.1f} s after it answered "
        f"again; run {outcome} after {completed:.1f} s with {versions} version(s); "
        f"same worker process: {'yes' if alive else 'no'}"
    )


if __name__ == "__main__":
    main()
