"""P14: whatever JSON the model returns, it is validated and repaired before use.

Hostile epic lists (path tricks, huge strings, wrong types, extra fields, broken
JSON) either become a safe plan whose files all land inside the output folder, or
fail the step with a domain error recorded on the run. Never anything else.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jeex.config import Settings
from jeex.db.session import Database
from jeex.db.urls import DatabaseUrls
from jeex.engine import plans as pipeline
from jeex.engine.runner import RunnerDeps
from jeex.errors import AppError
from jeex.llm.client import LLMClient
from jeex.projects.schemas import ProjectCreate
from jeex.runs import service as runs_service
from jeex.tenants.service import ensure_principal
from support.fakellm import ScriptedLLM

HOSTILE = ["../../etc/passwd", "/etc/shadow", "C:\\Windows\\x", "..", "con", "a/../../b",
           "<script>alert(1)</script>", "x" * 5000, "", "   ", "TBD", "Epic 1", "\x00\x1f",
           "‮gpj.exe", "Shared lists", "Notifications", "Payments"]  # fmt: skip
ENTRY = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")

titles = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=80))
numbers = st.one_of(st.integers(-5, 20), st.none(), st.just("3"), st.just(1.5))
epic = st.fixed_dictionaries(
    {"title": titles},
    optional={
        "number": numbers,
        "goal": st.one_of(st.text(max_size=200), st.just("y" * 20_000), st.none()),
        "depends_on": st.one_of(st.lists(st.integers(-3, 30), max_size=5), st.just("all")),
        "estimate_days": st.one_of(st.integers(-10, 10_000), st.none()),
        "extra": st.text(max_size=10),
    },
)
payloads = st.one_of(
    st.fixed_dictionaries({"epics": st.lists(epic, max_size=15)}),
    st.just({"epics": "not a list"}),
    st.just({"unexpected": True}),
    st.just([1, 2, 3]),
)


async def _scenario(urls: DatabaseUrls, server: ScriptedLLM, out: Path) -> str:
    config = Settings(
        database_url=urls.owner.render_as_string(hide_password=False),
        llm_base_url=server.base_url, llm_max_retries=0, data_dir=out / "data",
    )  # fmt: skip
    db = Database(urls.app, pool_size=2)
    llm = LLMClient(config, base_url=server.base_url)
    try:
        slug = f"fuzz-{uuid.uuid4().hex[:10]}"
        principal = await ensure_principal(db, tenant_slug=slug, tenant_name=slug,
                                           email=f"{slug}@x.test")  # fmt: skip
        project, runs = await pipeline.create_plan(
            db, principal, ProjectCreate(idea="A shared grocery list app"), steps=(4,),
            model=llm.model,
        )  # fmt: skip
        deps = RunnerDeps(db=db, llm=llm, settings=config)
        try:
            await pipeline.execute_runs(deps, principal, runs, _Quiet())
        except AppError:
            async with db.tenant_session(principal.tenant_id) as session:
                run = await runs_service.get_or_raise(session, run_id=runs[0].id)
            assert run.status == "failed"
            assert run.error
            return "failed"
        package, _ = await pipeline.write_project_package(db, principal, project.id, out)
        for path in package.files:
            assert os.path.commonpath([out.resolve(), path.resolve()]) == str(out.resolve())
            assert ENTRY.match(path.relative_to(out.resolve()).as_posix())
        return "completed"
    finally:
        await llm.close()
        await db.dispose()


class _Quiet:
    def event(self, run_id: Any, type: str, data: dict[str, Any]) -> None:
        return None

    def delta(self, run_id: Any, key: str, text: str) -> None:
        return None


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(payload=payloads)
def test_hostile_epic_plans_are_repaired_or_refused(
    payload: Any, database_urls: DatabaseUrls, fake_llm: ScriptedLLM,
    tmp_path_factory: Any,
) -> None:  # fmt: skip
    fake_llm.reset()
    fake_llm.script_json("EpicPlan", payload)
    out = tmp_path_factory.mktemp("fuzz")
    outcome = asyncio.run(_scenario(database_urls, fake_llm, out))
    assert outcome in {"completed", "failed"}


def test_broken_json_twice_fails_the_step(
    database_urls: DatabaseUrls, fake_llm: ScriptedLLM, tmp_path: Path
) -> None:
    fake_llm.reset()
    fake_llm.script_json("EpicPlan", "}{ not json", count=2)
    assert asyncio.run(_scenario(database_urls, fake_llm, tmp_path)) == "failed"


def test_path_tricks_in_titles_become_safe_file_names(
    database_urls: DatabaseUrls, fake_llm: ScriptedLLM, tmp_path: Path
) -> None:
    fake_llm.reset()
    hostile = [{"number": i, "title": t, "goal": "g" * 30, "depends_on": [], "estimate_days": 3}
               for i, t in enumerate(["../../etc/passwd", "Shared lists", "C:\\Windows\\x",
                                      "/etc/shadow", "x" * 5000], 1)]  # fmt: skip
    fake_llm.script_json("EpicPlan", {"epics": hostile})
    assert asyncio.run(_scenario(database_urls, fake_llm, tmp_path)) == "completed"
    names = sorted(p.name for p in tmp_path.rglob("*.md"))
    assert any(n.endswith("-etc-passwd.md") for n in names)
    assert not (tmp_path.parent / "etc").exists()
