"""``jeex db``: the schema, applied as the owner (the embedded server starts if needed)."""

from __future__ import annotations

import typer

from jeex.cli_support import guarded, settings_or_exit, stdout
from jeex.db.bootstrap import grant_app_role, owner_connection, prepare, resolve_urls
from jeex.db.migrate import current, downgrade

app = typer.Typer(help="Database schema (migrations).", no_args_is_help=True)


@app.command()
def upgrade() -> None:
    """Create the application role, migrate to the latest schema, grant, verify."""
    settings = settings_or_exit()

    def work() -> None:
        urls = resolve_urls(settings)
        prepare(urls, settings)
        with owner_connection(urls.owner) as conn:
            stdout.print(f"database at revision {current(conn)}")

    guarded(work)


@app.command("downgrade")
def downgrade_command(
    revision: str = typer.Argument("base", help="Target revision (default: empty schema)."),
) -> None:
    """Undo migrations down to a revision (``base`` drops every JEEX table)."""
    settings = settings_or_exit()

    def work() -> None:
        urls = resolve_urls(settings)
        with owner_connection(urls.owner) as conn:
            downgrade(conn, revision)
            if current(conn) is not None:
                grant_app_role(conn, settings.database_app_user)
            stdout.print(f"database at revision {current(conn) or 'base'}")

    guarded(work)
