"""Connection URLs: the owner's (migrations, bootstrap) and the application role's.

One driver everywhere: psycopg 3, which SQLAlchemy uses both sync (Alembic) and
async (the service), and which the job queue library uses too.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import URL, make_url

DRIVER = "postgresql+psycopg"


def to_sqlalchemy_url(url: str | URL) -> URL:
    """Accept ``postgresql://`` / ``postgres://`` URLs and pin the psycopg driver."""
    parsed = make_url(str(url)) if isinstance(url, str) else url
    if parsed.drivername in {"postgres", "postgresql", "postgresql+psycopg2", DRIVER}:
        return parsed.set(drivername=DRIVER)
    raise ValueError(f"unsupported database URL scheme {parsed.drivername!r}; use postgresql://")


@dataclass(frozen=True)
class DatabaseUrls:
    """Where the database is and who connects to it for what."""

    owner: URL
    app: URL

    @classmethod
    def derive(cls, owner: URL, *, app_user: str, app_password: str) -> DatabaseUrls:
        """The application connects to the same database as the owner, as its own role."""
        app = owner.set(username=app_user, password=app_password or None)
        return cls(owner=owner, app=app)


def libpq_dsn(url: URL) -> str:
    """A ``postgresql://`` string for psycopg itself (no SQLAlchemy driver suffix)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)
