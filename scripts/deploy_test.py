"""`make deploy-test`: the compose stack of deploy/compose.yaml, built and run on this machine.

What it proves, in the order a team would meet it: the image builds (from the official
Python image, or from a locally built Debian base where no registry answers); the stack
comes up in the order its health checks and the one-shot migrate service impose; the UI
answers on 5200 and the API on 5210; a whole plan (four steps) runs through the HTTP API
against the scripted LLM in a container of the stack; workers scale to three; the worker
writing a section is killed with SIGKILL in the middle of a run, and the run still
completes with every section written once; a real Prometheus (Debian's) scrapes the API
and every worker, and its query API returns the queue depth the database shows.

Not part of `make test`: it needs a Docker engine, builds images for minutes and stops
and starts containers. Its last output is kept in docs/deploy.md.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
PROJECT = "jeexdeploytest"
API = "http://127.0.0.1:5210"
UI = "http://127.0.0.1:5200"
OWNER_DB = "postgresql://postgres:{password}@127.0.0.1:5220/jeex"
PROMETHEUS_PORT = 5259
EMAIL, PASSWORD, TENANT = "ops@example.com", "deploy-test-password", "acme"
STARTED = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:6.1f}s] {message}", flush=True)


def fail(message: str) -> None:
    say(f"FAILED: {message}")
    raise SystemExit(1)


def run(
    args: Sequence[str | Path],
    *,
    env: dict[str, str] | None = None,
    check: bool = True,
    timeout: float | None = None,
    capture_stderr: bool = False,
) -> str:
    done = subprocess.run(
        [str(a) for a in args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and done.returncode != 0:
        sys.stdout.write(done.stdout[-4000:])
        sys.stdout.write(done.stderr[-4000:])
        fail(f"{' '.join(str(a) for a in args[:4])} … exited with {done.returncode}")
    return done.stdout + (done.stderr if capture_stderr else "")


def wait_for(what: str, probe: Callable[[], Any], *, seconds: float, every: float = 1.0) -> Any:
    deadline = time.monotonic() + seconds
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = probe()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - any failure of a probe means "not yet"
            last = exc
        time.sleep(every)
    fail(
        f"{what}: not within {seconds:.0f} s ({last!r})"
        if last
        else f"{what}: not within {seconds:.0f} s"
    )


# --------------------------------------------------------------------------- the engine


def ensure_engine() -> None:
    if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0:
        return
    if shutil.which("dockerd") is None:
        fail("no Docker engine: install docker.io (apt-get install docker.io docker-compose)")
    say("starting dockerd")
    log = open(Path(tempfile.gettempdir()) / "jeex-dockerd.log", "ab")  # noqa: SIM115
    subprocess.Popen(["dockerd"], stdout=log, stderr=log, start_new_session=True)
    wait_for(
        "dockerd",
        lambda: subprocess.run(["docker", "info"], capture_output=True).returncode == 0,
        seconds=60,
    )


def compose_command() -> list[str]:
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    fail("neither `docker compose` nor `docker-compose`: apt-get install docker-compose")
    raise AssertionError


def pullable(image: str) -> bool:
    if subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode == 0:
        return True
    try:
        return (
            subprocess.run(["docker", "pull", image], capture_output=True, timeout=60).returncode
            == 0
        )
    except subprocess.TimeoutExpired:
        return False


def build_images() -> dict[str, str]:
    """The image names the stack runs, built here; what could not be had is said."""
    env: dict[str, str] = {"JEEX_IMAGE": "jeex:deploy-test"}
    base = "python:3.11-slim-bookworm"
    if not pullable(base):
        say(f"{base} cannot be pulled (no registry): building a Debian base with debootstrap")
        run([ROOT / "scripts/build-base-image", "jeex-base:bookworm"])
        base = "jeex-base:bookworm"
    say(f"building the JEEX image on {base}")
    started = time.monotonic()
    run(["docker", "build", "--build-arg", f"BASE={base}", "-t", env["JEEX_IMAGE"], ROOT])
    size = run(["docker", "image", "inspect", "-f", "{{.Size}}", env["JEEX_IMAGE"]]).strip()
    seconds = time.monotonic() - started
    say(f"image {env['JEEX_IMAGE']}: {int(size) / 1e6:.0f} MB, built in {seconds:.0f} s")
    if pullable("postgres:16-bookworm"):
        env["JEEX_POSTGRES_IMAGE"] = "postgres:16-bookworm"
    else:
        say("postgres:16-bookworm cannot be pulled: PostgreSQL 15 from Debian on the local base")
        run(
            [
                "docker",
                "build",
                "--build-arg",
                f"BASE={base}",
                "-t",
                "jeex-postgres:local",
                "-f",
                ROOT / "deploy/local/postgres.Dockerfile",
                ROOT / "deploy/local",
            ]
        )
        env["JEEX_POSTGRES_IMAGE"] = "jeex-postgres:local"
    if pullable("redis:7-bookworm"):
        env["JEEX_REDIS_IMAGE"] = "redis:7-bookworm"
    else:
        say("redis:7-bookworm cannot be pulled: Redis 7 from Debian on the local base")
        run(["docker", "build", "--build-arg", f"BASE={base}", "-t", "jeex-redis:local",
             "-f", ROOT / "deploy/local/redis.Dockerfile", ROOT / "deploy/local"])  # fmt: skip
        env["JEEX_REDIS_IMAGE"] = "jeex-redis:local"
    if pullable("qdrant/qdrant:v1.12.4"):
        env["COMPOSE_PROFILES"] = "qdrant"
        env["JEEX_RETRIEVAL_ENABLED"] = "true"
    else:
        say("qdrant/qdrant:v1.12.4 cannot be pulled: the stack runs WITHOUT Qdrant")
        say("retrieval is OFF (JEEX_RETRIEVAL_ENABLED=false): exhibits are refused")
        env["COMPOSE_PROFILES"] = ""
        env["JEEX_RETRIEVAL_ENABLED"] = "false"
    return env


# --------------------------------------------------------------------------- the stack


class Stack:
    def __init__(self, env: dict[str, str], secrets: Path) -> None:
        self.command = compose_command()
        self.env = {
            **env,
            "JEEX_SECRETS_DIR": str(secrets),
            "JEEX_LLM_BASE_URL": "http://llm:8000/v1",
            "JEEX_LLM_MODEL": "scripted-model",
            "JEEX_LOG_LEVEL": "INFO",
        }
        self.secrets = secrets

    def __call__(self, *args: str, check: bool = True, timeout: float | None = 600) -> str:
        return run(
            [
                *self.command,
                "-p",
                PROJECT,
                "-f",
                ROOT / "deploy/compose.yaml",
                "-f",
                ROOT / "tests/deploy/compose.test.yaml",
                *args,
            ],
            env=self.env,
            check=check,
            timeout=timeout,
        )

    def containers(self, service: str) -> list[str]:
        ids = run(
            [
                "docker",
                "ps",
                "-q",
                "--filter",
                f"label=com.docker.compose.project={PROJECT}",
                "--filter",
                f"label=com.docker.compose.service={service}",
            ]
        )
        return sorted(ids.split())

    @staticmethod
    def address(container: str) -> str:
        return run(
            [
                "docker",
                "inspect",
                "-f",
                "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                container,
            ]
        ).strip()

    def owner_url(self) -> str:
        password = (self.secrets / "postgres_password").read_text()
        return OWNER_DB.format(password=urllib.parse.quote(password))


@contextmanager
def prometheus(stack: Stack, folder: Path) -> Iterator[Callable[[], None]]:
    """Debian's Prometheus on 127.0.0.1, scraping the API and every worker container by
    address; the returned function rewrites its targets after a scale (file_sd)."""
    binary = shutil.which("prometheus")
    if binary is None:
        fail("prometheus is missing: apt-get install prometheus")
    targets = folder / "targets.json"

    def refresh() -> None:
        groups = [
            {
                "targets": [f"{stack.address(c)}:5210" for c in stack.containers("api")],
                "labels": {"job": "jeex-api"},
            },
            {
                "targets": [f"{stack.address(c)}:9310" for c in stack.containers("worker")],
                "labels": {"job": "jeex-worker"},
            },
        ]
        targets.write_text(json.dumps(groups))

    refresh()
    config = folder / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 2s, evaluation_interval: 2s}\n"
        "scrape_configs:\n"
        "  - job_name: jeex\n"
        f"    file_sd_configs: [{{files: ['{targets}'], refresh_interval: 2s}}]\n"
    )
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{PROMETHEUS_PORT}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(folder / "prometheus.log", "w"),  # noqa: SIM115
    )
    try:
        wait_for(
            "prometheus",
            lambda: httpx.get(f"http://127.0.0.1:{PROMETHEUS_PORT}/-/ready").is_success,
            seconds=30,
        )
        say(f"Prometheus {run([binary, '--version']).split()[2]} on 127.0.0.1:{PROMETHEUS_PORT}")
        yield refresh
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def query(promql: str) -> list[dict[str, Any]]:
    body = httpx.get(
        f"http://127.0.0.1:{PROMETHEUS_PORT}/api/v1/query", params={"query": promql}
    ).json()
    if body.get("status") != "success":
        fail(f"Prometheus refused {promql!r}: {body}")
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


# --------------------------------------------------------------------------- the plan


class Client:
    def __init__(self) -> None:
        self.http = httpx.Client(base_url=f"{API}/api/v1", timeout=30)
        token = self.http.post("/auth/token", data={"username": EMAIL, "password": PASSWORD})
        if token.status_code != 200:
            fail(f"sign-in: {token.status_code} {token.text}")
        self.http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"

    def post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.http.post(path, json=body)
        if response.status_code >= 300:
            fail(f"POST {path}: {response.status_code} {response.text}")
        result: dict[str, Any] = response.json()
        return result

    def get(self, path: str) -> Any:
        response = self.http.get(path)
        if response.status_code >= 300:
            fail(f"GET {path}: {response.status_code} {response.text}")
        return response.json()


def run_progress(client: Client, project: str, run_id: str) -> dict[str, Any]:
    runs = client.get(f"/projects/{project}/progress")["runs"]
    found: dict[str, Any] = next(r for r in runs if r["id"] == run_id)
    return found


def wait_run(client: Client, project: str, run_id: str, *, seconds: float) -> dict[str, Any]:
    def settled() -> dict[str, Any] | None:
        progress = run_progress(client, project, run_id)
        return progress if progress["status"] in ("completed", "failed", "cancelled") else None

    progress: dict[str, Any] = wait_for(f"run {run_id}", settled, seconds=seconds, every=2)
    return progress


def holder_of_a_claim(stack: Stack) -> str | None:
    """The worker container whose database connection holds a unit's claim (an advisory
    lock): the one writing a section right now."""
    with psycopg.connect(stack.owner_url(), autocommit=True) as conn:
        rows = conn.execute(
            "select distinct host(a.client_addr) from pg_locks l "
            "join pg_stat_activity a on a.pid = l.pid "
            "where l.locktype = 'advisory' and a.client_addr is not null"
        ).fetchall()
    addresses = {row[0] for row in rows}
    for container in stack.containers("worker"):
        if stack.address(container) in addresses:
            return container
    return None


def jobs_where(stack: Stack, condition: str) -> int:
    """How many queue jobs match ``condition``, read as the owner."""
    with psycopg.connect(stack.owner_url(), autocommit=True) as conn:
        row = conn.execute(f"select count(*) from procrastinate_jobs where {condition}").fetchone()
    return int(row[0]) if row else 0


def queue_depth_in_database(stack: Stack) -> int:
    return jobs_where(stack, "queue_name = 'runs' and status = 'doing'")


def open_jobs(stack: Stack) -> int:
    return jobs_where(stack, "status in ('todo', 'doing')")


def settle_queue(stack: Stack) -> None:
    """The killed worker's job stays `doing` until its heartbeat is stale (30 s); then a
    live worker's reaper retries it, and the retry finds its run finished."""
    wait_for(
        "the queue to empty (the dead worker's job reaped)",
        lambda: open_jobs(stack) == 0,
        seconds=180,
        every=2,
    )
    reaped = [
        line
        for c in stack.containers("worker")
        for line in run(["docker", "logs", c], capture_stderr=True).splitlines()
        if "stalled job reaped" in line
    ]
    say(f"the queue is empty; reaper: {len(reaped)} stalled job(s) reaped")
    for line in reaped:
        say(f"  {line.strip()[:200]}")
    # Prometheus, after the gauges' next refresh (15 s) and a scrape: the same depth.
    wait_for(
        "Prometheus to read the empty queue",
        lambda: query('max(jeex_queue_jobs{queue="runs",status="doing"}) == 0'),
        seconds=60,
        every=2,
    )
    say("Prometheus reads 0 running run jobs, as the database says")


def check_nothing_lost_or_doubled(stack: Stack, project: str) -> None:
    with psycopg.connect(stack.owner_url(), autocommit=True) as conn:
        runs = conn.execute(
            "select step, status, attempts from runs where project_id = %s order by step",
            (project,),
        ).fetchall()
        sections = conn.execute(
            "select r.step, count(*), count(distinct s.key), "
            "count(*) filter (where s.status <> 'completed') "
            "from run_sections s join runs r on r.id = s.run_id "
            "where r.project_id = %s group by r.step order by r.step",
            (project,),
        ).fetchall()
        versions = conn.execute(
            "select document_type, epic_number, count(*) from document_versions "
            "where project_id = %s group by 1, 2 order by 1, 2",
            (project,),
        ).fetchall()
        jobs = conn.execute(
            "select status, count(*) from procrastinate_jobs where queue_name = 'runs' group by 1"
        ).fetchall()
    say(f"runs (step, status, attempts): {runs}")
    say(f"sections (step, rows, distinct keys, not done): {sections}")
    say(f"document versions (type, epic, count): {versions}")
    say(f"run jobs by status: {jobs}")
    if [r[1] for r in runs] != ["completed"] * 4:
        fail("not every step completed")
    for step, rows, distinct, not_done in sections:
        if rows != distinct or not_done:
            fail(f"step {step}: {rows} section rows, {distinct} keys, {not_done} not done")
    if any(count != 1 for *_, count in versions):
        fail("a document has more than one version: a step was written twice")
    if {s for s, _ in jobs} - {"succeeded"}:
        fail(f"a run job did not succeed: {jobs}")


def check_documents(client: Client, project: str) -> None:
    for document in client.get(f"/projects/{project}/documents"):
        text = client.http.get(f"/projects/{project}/documents/{document['id']}/content").text
        headings = [line for line in text.splitlines() if line.startswith("## ")]
        if len(headings) != len(set(headings)):
            fail(f"{document['title']}: a section heading appears twice")


# --------------------------------------------------------------------------- main


def main() -> None:
    ensure_engine()
    env = build_images()
    with tempfile.TemporaryDirectory(prefix="jeex-deploy-test-") as tmp:
        folder = Path(tmp)
        secrets = folder / "secrets"
        run(
            [ROOT / "scripts/make-deploy-secrets", secrets],
            env={"JEEX_LLM_API_KEY": "sk-deploy-test-" + os.urandom(8).hex()},
        )
        stack = Stack(env, secrets)
        stack("down", "-v", "--remove-orphans", check=False)
        try:
            exercise(stack, folder)
        finally:
            if os.environ.get("JEEX_DEPLOY_TEST_KEEP") != "1":
                stack("down", "-v", "--remove-orphans", check=False)
    say("deploy test passed")


def exercise(stack: Stack, folder: Path) -> None:
    say("docker compose up (one worker)")
    stack("up", "-d", "--scale", "worker=1")
    wait_for("the API's /ready", lambda: httpx.get(f"{API}/ready").status_code == 200, seconds=240)
    migrate = (
        stack.containers("migrate")
        or run(
            [
                "docker",
                "ps",
                "-aq",
                "--filter",
                f"label=com.docker.compose.project={PROJECT}",
                "--filter",
                "label=com.docker.compose.service=migrate",
            ]
        ).split()
    )
    code = run(["docker", "inspect", "-f", "{{.State.ExitCode}}", migrate[0]]).strip()
    say(f"migrate exited with {code}; API ready on 5210")
    if code != "0":
        fail("the migrate service failed")
    page = httpx.get(f"{UI}/")
    if page.status_code != 200 or "<html" not in page.text.lower():
        fail(f"the UI on 5200 answered {page.status_code}")
    say("the UI answers on 5200")
    stack(
        "run",
        "--rm",
        "--no-deps",
        "-e",
        f"JEEX_USER_PASSWORD={PASSWORD}",
        "api",
        "users",
        "create",
        "--email",
        EMAIL,
        "--tenant",
        TENANT,
    )
    client = Client()
    project = client.post(
        "/projects",
        {
            "name": "Grocery list",
            "idea_description": "A shared grocery list app for families",
            "target_audience": "busy parents",
        },
    )["id"]
    say(f"signed in through the API; project {project}")
    with prometheus(stack, folder) as refresh_targets:
        for step in (1, 2, 3, 4):
            run_id = client.post(f"/projects/{project}/step{step}")["id"]
            say(f"step {step}: run {run_id} queued")
            if step == 3:
                scale_workers(stack, refresh_targets)
            if step == 4:  # epics: the step whose units workers share (claims)
                kill_mid_run(stack, client, project, run_id, refresh_targets)
            progress = wait_run(client, project, run_id, seconds=900)
            say(
                f"step {step}: {progress['status']}, {progress['sections_done']}/"
                f"{progress['sections_expected']} sections"
            )
            if progress["status"] != "completed":
                fail(f"step {step} ended {progress['status']}")
        settle_queue(stack)
        check_nothing_lost_or_doubled(stack, project)
        check_documents(client, project)
        up = query('up{job="jeex-worker"} == 1')
        api = query('up{job="jeex-api"} == 1')
        say(f"Prometheus sees {len(up)} live workers and {len(api)} API process(es)")
        if len(up) != 2:
            fail("Prometheus should see the two workers left")


def scale_workers(stack: Stack, refresh_targets: Callable[[], None]) -> None:
    say("scaling workers to 3")
    stack("up", "-d", "--no-recreate", "--scale", "worker=3", "worker")
    wait_for("3 workers", lambda: len(stack.containers("worker")) == 3, seconds=60)
    refresh_targets()


def kill_mid_run(
    stack: Stack, client: Client, project: str, run_id: str, refresh_targets: Callable[[], None]
) -> None:
    def steady_holder() -> str | None:
        first = holder_of_a_claim(stack)
        time.sleep(0.5)
        return first if first is not None and holder_of_a_claim(stack) == first else None

    victim = wait_for("a worker writing an epic", steady_holder, seconds=300, every=0.5)
    depth = queue_depth_in_database(stack)
    # Two scrapes at 2 s, then Prometheus has what the gauges (refreshed every 15 s) say.
    seen = wait_for(
        "jeex_queue_jobs{queue='runs',status='doing'} in Prometheus",
        lambda: query('max(jeex_queue_jobs{queue="runs",status="doing"}) >= 1'),
        seconds=60,
        every=2,
    )
    say(
        f"queue depth: the database has {depth} running run job(s); Prometheus reads "
        f"{seen[0]['value'][1]} through its query API (gauges refresh every 15 s)"
    )
    done = run_progress(client, project, run_id)["sections_done"]
    say(
        f"killing worker {victim[:12]} (SIGKILL) while it writes an epic of step 4, "
        f"{done} sections done"
    )
    run(["docker", "kill", "--signal", "KILL", victim])
    refresh_targets()


if __name__ == "__main__":
    main()
