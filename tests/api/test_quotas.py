"""Tenant quotas over HTTP: a refusal names the quota, the use and the limit (429), leaves
nothing behind, and ``/usage`` shows use against each limit; an operator sets a tenant's
own limits with ``jeex tenants quota``."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from jeex.config import Settings
from jeex.db.session import Database
from jeex.db.urls import DatabaseUrls
from jeex.runs.models import Run
from support.api import Caller, assert_error, create_project
from support.cli import invoke, jeex_env


@pytest.fixture
def api_settings(api_settings: Settings) -> Settings:
    """Every tenant: one run at once, 1000 tokens a day, 64 KiB of exhibits."""
    return api_settings.model_copy(
        update={
            "quota_concurrent_runs": 1,
            "quota_tokens_per_day": 1000,
            "quota_exhibit_bytes": 64 * 1024,
        }
    )


async def test_one_run_at_once_then_a_clear_refusal(
    client: httpx.AsyncClient, alice: Caller, bob: Caller
) -> None:
    first = await create_project(client, alice)
    second = await create_project(client, alice)
    started = await client.post(f"/api/v1/projects/{first['id']}/step1", headers=alice.headers)
    assert started.status_code == 202, started.text
    refused = await client.post(f"/api/v1/projects/{second['id']}/step1", headers=alice.headers)
    assert_error(refused, 429, "QuotaExceeded")
    assert refused.json()["detail"] == (
        "cannot start another run now: the tenant's quota of runs at once is 1 (1 now)"
    )
    runs = await client.get(f"/api/v1/projects/{second['id']}/runs", headers=alice.headers)
    assert runs.json() == []  # nothing half-made
    # Another tenant has its own slot.
    other = await create_project(client, bob)
    assert (
        await client.post(f"/api/v1/projects/{other['id']}/step1", headers=bob.headers)
    ).status_code == 202
    metrics = await client.get("/metrics")
    assert 'jeex_quota_refused_total{quota="concurrent_runs"} 1.0' in metrics.text
    # The refusal is in alice's security log (written apart: the request rolled back).
    log = await client.get("/api/v1/audit-events?action=quota.refused", headers=alice.headers)
    assert [(e["actor_email"], e["detail"]["reason"]) for e in log.json()] == [
        (alice.email, refused.json()["detail"])
    ]
    assert log.json()[0]["target"] == f"POST /api/v1/projects/{second['id']}/step1"
    bob_log = await client.get("/api/v1/audit-events?action=quota.refused", headers=bob.headers)
    assert bob_log.json() == []


async def test_a_spent_daily_budget_refuses_until_it_renews(
    client: httpx.AsyncClient, db: Database, alice: Caller
) -> None:
    project = await create_project(client, alice)
    started = await client.post(f"/api/v1/projects/{project['id']}/step1", headers=alice.headers)
    run_id = started.json()["id"]
    async with db.tenant_session(alice.tenant_id) as session:  # what a worker would have spent
        await session.execute(
            update(Run).where(Run.id == run_id).values(tokens_in=700, tokens_out=300)
        )
    cancelled = await client.post(f"/api/v1/runs/{run_id}/cancel", headers=alice.headers)
    assert cancelled.status_code == 200
    again = await client.post(f"/api/v1/projects/{project['id']}/step1", headers=alice.headers)
    assert_error(again, 429, "QuotaExceeded")
    detail = again.json()["detail"]
    assert detail.startswith("cannot start a run: the tenant's quota of LLM tokens per day is used")
    assert "(1000 of 1000); it renews at " in detail
    assert 0 < int(again.headers["Retry-After"]) <= 86_400
    retried = await client.post(f"/api/v1/runs/{run_id}/retry", headers=alice.headers)
    assert_error(retried, 429, "QuotaExceeded")

    usage = (await client.get("/api/v1/usage", headers=alice.headers)).json()
    rows = {row["quota"]: row for row in usage["quotas"]}
    assert rows["tokens_per_day"] == {
        "quota": "tokens_per_day", "label": "LLM tokens per day",
        "used": 1000, "limit": 1000, "remaining": 0,
    }  # fmt: skip
    assert rows["cost_per_day"]["limit"] is None  # no limit set
    assert rows["concurrent_runs"]["used"] == 0
    assert usage["rate_limits"]["user"] == "off"  # as the test settings have it


async def test_an_exhibit_over_the_storage_quota_is_refused_and_not_kept(
    client: httpx.AsyncClient, alice: Caller, api_settings: Settings
) -> None:
    project = await create_project(client, alice)
    base = f"/api/v1/projects/{project['id']}/exhibits"
    small = b"# Notes\n\nParents shop on Saturdays.\n"
    kept = await client.post(
        base, files={"file": ("a.md", small, "text/markdown")}, headers=alice.headers
    )
    assert kept.status_code == 202, kept.text
    big = b"# Survey\n\n" + b"Families plan meals together on Sunday evenings.\n" * 1400
    refused = await client.post(
        base, files={"file": ("b.md", big, "text/markdown")}, headers=alice.headers
    )
    assert_error(refused, 429, "QuotaExceeded")
    assert "quota of exhibit storage (bytes) is 65536" in refused.json()["detail"]
    listed = (await client.get(base, headers=alice.headers)).json()
    assert [e["filename"] for e in listed] == ["a.md"]
    stored = [p for p in api_settings.exhibits_dir.rglob("*") if p.is_file()]
    assert len(stored) == 1  # the refused file was removed


def test_an_operator_sets_and_clears_a_tenants_quota(
    database_urls: DatabaseUrls, tmp_path: Path
) -> None:
    env = jeex_env(
        JEEX_DATABASE_URL=database_urls.owner.render_as_string(hide_password=False),
        JEEX_DATA_DIR=str(tmp_path / "data"),
        JEEX_QUOTA_TOKENS_PER_MONTH="500000",
        JEEX_USER_PASSWORD="a long password",
    )
    created = invoke(env, "users", "create", "--email", "ops@example.test", "--tenant", "quota-co")
    assert created.returncode == 0, created.stderr
    done = invoke(
        env, "tenants", "quota", "quota-co", "--tokens-per-day", "20000",
        "--cost-per-month", "12.5", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = {row["quota"]: row for row in json.loads(done.stdout)}
    assert rows["tokens_per_day"]["limit"] == 20000
    assert rows["cost_per_month"]["limit"] == 12.5
    assert rows["tokens_per_month"]["limit"] == 500000  # the installation's default
    cleared = invoke(env, "tenants", "quota", "quota-co", "--default", "tokens_per_day")
    assert cleared.returncode == 0, cleared.stderr
    assert "LLM tokens per day: 0 used of no limit" in cleared.stdout
    unknown = invoke(env, "tenants", "quota", "quota-co", "--default", "pizzas")
    assert unknown.returncode == 2
    assert "no quota 'pizzas'" in unknown.stderr
    missing = invoke(env, "tenants", "quota", "no-such-co", "--tokens-per-day", "1")
    assert missing.returncode == 2
    assert "no tenant 'no-such-co'" in missing.stderr
