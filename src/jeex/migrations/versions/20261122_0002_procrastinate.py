"""Job queue: procrastinate's schema (3.10.0), owned by our migrations.

The SQL is a frozen copy of the schema procrastinate 3.10.0 ships
(``jeex/migrations/sql/procrastinate-3.10.0.sql``), so this revision creates the same
objects whatever procrastinate version is installed later; upgrading procrastinate
means a new revision that applies its migration files (docs/operations.md).
Its tables hold no tenant data (only ids in job arguments) and have no ``tenant_id``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 02:50:00
"""

import re
from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "sql" / "procrastinate-3.10.0.sql"


def _schema_sql() -> str:
    return SCHEMA_FILE.read_text(encoding="utf-8")


def _names(kind: str) -> list[str]:
    return re.findall(rf"^CREATE {kind} (\w+)", _schema_sql(), flags=re.MULTILINE)


def upgrade() -> None:
    # Through the driver, without parameters: psycopg sends the script as one simple
    # query, so its `%` and `::` are not taken for placeholders.
    driver = op.get_bind().connection.driver_connection
    assert driver is not None
    driver.execute(_schema_sql())


def downgrade() -> None:
    for table in reversed(_names("TABLE")):
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    for function in _names("FUNCTION"):
        op.execute(f"DROP FUNCTION IF EXISTS {function} CASCADE")
    for type_ in _names("TYPE"):
        op.execute(f"DROP TYPE IF EXISTS {type_} CASCADE")
