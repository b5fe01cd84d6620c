"""Time to produce each export format for a full 15-document package, and peak memory.

Why: an export is a job a user waits for (goal: ZIP < 1 s, PDF < 5 s). The package is
about, specs, architecture, the plan overview and 11 epics, each about 1,000 words with
headings, lists, a table, a code block and a Mermaid block — the size the bundled model
writes. Each format goes through ``jeex.exports.render.render`` exactly as the export job
runs it (PDF in its sandboxed child process). No database: the job's database work is two
small transactions and is measured by the queue benchmark.

Peak memory: for formats rendered in this process, the peak of Python allocations during
the render (``tracemalloc``); for PDF, the child's maximum resident set size (its whole
process, interpreter and WeasyPrint included).

Run ``python bench/export.py [--repeat 3]``; it prints a Markdown table ready to paste.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import time
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta

from jeex.config import Settings
from jeex.documents.models import DocumentVersion
from jeex.exports.bundle import ExportBundle, build_bundle
from jeex.exports.formats import FORMATS
from jeex.exports.render import render
from jeex.projects.models import Project

WHEN = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
SENTENCE = (
    "The service keeps every family's shared list in sync across phones and tablets, "
    "so that nobody buys the same thing twice and nothing is forgotten. "
)


def _section(title: str, index: int) -> str:
    paragraph = SENTENCE * 6
    return (
        f"## {title}\n\n{paragraph}\n\n{paragraph}\n\n"
        + "".join(f"{i}. Step {i} of {title.lower()}: {SENTENCE}\n" for i in range(1, 6))
        + "\n| Item | Owner | Estimate |\n| --- | --- | ---: |\n"
        + "".join(f"| Item {i} | Team {i % 3} | {i * index} d |\n" for i in range(1, 7))
        + "\n```mermaid\ngraph TD\n  A[Client] --> B[API]\n  B --> C[(PostgreSQL)]\n```\n\n"
    )


def _content(title: str, sections: list[str]) -> str:
    return f"# {title}\n\n" + "".join(_section(s, i) for i, s in enumerate(sections, 1))


def sample_bundle() -> ExportBundle:
    project = Project(
        id=uuid.uuid4(), tenant_id=uuid.uuid4(), name="Family Lists", slug="family-lists",
        idea="A shared grocery list app for families", audience="busy parents",
        language="en", status="ready", current_step=4, metadata_={},
    )  # fmt: skip
    specs: list[tuple[str, int, str, list[str], dict[str, object]]] = [
        ("about", 0, "About", ["Problem", "Audience", "Value", "Scope", "Risks", "Metrics"], {}),
        ("specs", 0, "Standards", ["Coding", "Testing", "Review", "Security"], {}),
        ("architecture", 0, "Architecture", ["Overview", "Components", "Data", "Stack"], {}),
        ("plan_overview", 0, "Plan", ["Overview", "Epics", "Milestones"], {}),
    ]
    for number in range(1, 12):
        record = {"number": number, "title": f"Epic {number}", "slug": f"epic-{number}",
                  "goal": "Deliver it", "depends_on": list(range(1, number))[-2:],
                  "estimate_days": 3 + number}  # fmt: skip
        specs.append(("plan_epic", number, f"Epic {number}", ["Goal", "Scope", "Tasks",
                                                               "Acceptance criteria"],
                      {"epic": record}))  # fmt: skip
    rows = [
        DocumentVersion(
            id=uuid.uuid4(),
            tenant_id=project.tenant_id,
            project_id=project.id,
            run_id=None,
            document_type=kind,
            epic_number=number,
            title=title,
            version=1,
            content=_content(title, sections),
            metadata_={"model": "bench", "template": kind, "template_version": "1.0", **meta},
            created_at=WHEN + timedelta(minutes=i),
            updated_at=WHEN,
        )  # fmt: skip
        for i, (kind, number, title, sections, meta) in enumerate(specs)
    ]
    return build_bundle(project, rows)


async def measure(
    bundle: ExportBundle, export_format: str, settings: Settings
) -> tuple[float, int, float]:
    """Seconds, output bytes, peak MiB for one render."""
    tracemalloc.start()
    started = time.perf_counter()
    rendered = await render(bundle, export_format, settings)
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    if export_format == "pdf":
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return seconds, len(rendered.data), peak / 2**20


async def main(repeat: int) -> None:
    bundle = sample_bundle()
    words = sum(d.doc.words for d in bundle.documents)
    settings = Settings(database_url="postgresql://unused/unused")
    print(f"{len(bundle.documents)} documents, {words:,} words; median of {repeat} runs\n")
    print("| format | seconds (median) | min | output KiB | peak MiB | goal |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    goals = {"zip": "< 1 s", "pdf": "< 5 s"}
    for export_format in FORMATS:
        results = [await measure(bundle, export_format, settings) for _ in range(repeat)]
        times = [r[0] for r in results]
        print(
            f"| {export_format} | {statistics.median(times):.2f} | {min(times):.2f} | "
            f"{results[-1][1] / 1024:,.0f} | {max(r[2] for r in results):.0f} | "
            f"{goals.get(export_format, '—')} |"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    asyncio.run(main(parser.parse_args().repeat))
