"""The ``jeex`` command line: plan, export, worker, serve, db, projects, docs, runs,
exhibits, search, users, apikeys.

Commands that report something take ``--json`` and then print exactly one JSON
document on stdout; progress and errors go to stderr.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from jeex.cli_support import guarded, settings_or_exit
from jeex.commands import db as commands_db
from jeex.commands import exhibits as commands_exhibits
from jeex.commands import export as commands_export
from jeex.commands import listing as commands_docs
from jeex.commands import plan as commands_plan
from jeex.commands import users as commands_users
from jeex.commands import worker as commands_worker

app = typer.Typer(
    name="jeex",
    help="JEEX Plan: turn a product idea into a reviewed documentation package.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(commands_db.app, name="db")
app.add_typer(commands_docs.projects_app, name="projects")
app.add_typer(commands_docs.docs_app, name="docs")
app.add_typer(commands_docs.runs_app, name="runs")
app.add_typer(commands_users.users_app, name="users")
app.add_typer(commands_users.apikeys_app, name="apikeys")
app.add_typer(commands_users.tenants_app, name="tenants")
app.add_typer(commands_exhibits.exhibits_app, name="exhibits")

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


@app.command()
def plan(
    idea: Annotated[str | None, typer.Argument(help="The product idea.")] = None,
    audience: Annotated[str, typer.Option(help="Who the product is for.")] = "",
    language: Annotated[str, typer.Option(help="Document language (en, de, ru …).")] = "en",
    out: Annotated[Path, typer.Option(help="Folder for <project-slug>/ and its ZIP.")] = Path(
        "plan"
    ),
    name: Annotated[str | None, typer.Option(help="Project name (default: from the idea).")] = None,
    project: Annotated[
        str | None, typer.Option(help="Continue or re-run an existing project (id or slug).")
    ] = None,
    steps: Annotated[str, typer.Option(help="Steps to run: 1-4, 2-4, 3 …")] = "1-4",
    json_output: JsonOption = False,
    quiet: Annotated[bool, typer.Option(help="No live progress display.")] = False,
    detach: Annotated[
        bool, typer.Option(help="Only queue the steps; `jeex worker` processes execute them.")
    ] = False,
) -> None:
    """Write the documentation package for an idea (or continue a project's steps)."""
    settings = settings_or_exit()
    request = guarded(
        lambda: commands_plan.PlanRequest.build(
            idea=idea,
            audience=audience,
            language=language,
            out=out,
            name=name,
            project=project,
            steps=steps,
        )
    )
    commands_plan.plan(settings, request, json_output=json_output, quiet=quiet, detach=detach)


@app.command("export")
def export(
    project: Annotated[str, typer.Argument(help="Project id or slug.")],
    export_format: Annotated[
        str, typer.Option("--format", "-f", help="zip, pdf, docx, xlsx or pptx.")
    ] = "zip",
    out: Annotated[
        Path | None, typer.Option(help="File to write, or a folder (default: ./<slug>.<ext>).")
    ] = None,
    use: Annotated[
        list[str] | None,
        typer.Option("--use", help="A named version instead of the latest, e.g. about@2."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Export a project's documents as ZIP, PDF, DOCX, XLSX or PPTX."""
    settings = settings_or_exit()
    commands_export.export(
        settings,
        project=project,
        export_format=export_format,
        out=out,
        versions=use or [],
        json_output=json_output,
    )


@app.command()
def worker(
    concurrency: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="Runs at once (JEEX_QUEUE_CONCURRENCY); exhibits and exports have own slots.",
        ),
    ] = None,
    queues: Annotated[
        list[str] | None,
        typer.Option("--queues", help="Queues to serve (default: runs, exhibits, exports)."),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            min=1, max=65535, help="Serve Prometheus /metrics on this port (JEEX_METRICS_HOST)."
        ),
    ] = None,
) -> None:
    """Execute queued runs until SIGTERM/Ctrl-C (then finish the current section and exit)."""
    settings = settings_or_exit()
    commands_worker.worker(
        settings, concurrency=concurrency, queues=queues or None, metrics_port=metrics_port
    )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (JEEX_API_HOST).")] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Port (JEEX_API_PORT, 5210).")
    ] = None,
    workers: Annotated[
        int, typer.Option(min=0, max=64, help="Runs executed at once in this process; 0: API only.")
    ] = 1,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
) -> None:
    """Serve the HTTP API under /api/v1 (embedded: database, LLM and workers in-process)."""
    # Not a cycle: the web stack (FastAPI, uvicorn, the UI) loads only for `serve`.
    from jeex.commands import serve as commands_serve

    settings = settings_or_exit()
    if log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise typer.BadParameter("use DEBUG, INFO, WARNING or ERROR", param_hint="--log-level")
    commands_serve.serve(
        settings,
        host=host or settings.api_host,
        port=port or settings.api_port,
        workers=workers,
        log_level=log_level.upper(),
    )


@app.command()
def search(
    project: Annotated[str, typer.Argument(help="Project id or slug.")],
    query: Annotated[str, typer.Argument(help="What to look for.")],
    limit: Annotated[int, typer.Option(min=1, max=100, help="How many passages.")] = 10,
    json_output: JsonOption = False,
) -> None:
    """Ranked passages of a project's exhibits and documents, with their source."""
    commands_exhibits.search(project, query, limit=limit, json_output=json_output)


def main() -> None:  # pragma: no cover - console script entry
    app()
