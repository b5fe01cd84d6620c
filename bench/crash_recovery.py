"""Time from SIGKILL of the worker executing a run to the run progressing on another worker.

Why: the issue promises a killed worker's run moves again within 60 s with the default
settings. Two real ``jeex worker`` processes, the scripted LLM server at 20 ms a token, a
fresh database; the worker executing the run is killed in the middle of a section, and the
clock stops at the run's ``run.resumed`` event (written when the other worker takes it).

Run ``python bench/crash_recovery.py [--stall-seconds 30] [--database-url …]``.
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
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "JEEX_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1/postgres"
        ),
    )
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
