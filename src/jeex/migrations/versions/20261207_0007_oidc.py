"""OpenID Connect sign-in: the single-use state of each sign-in under way.

``oidc_logins`` holds, per sign-in started and not yet finished, what the callback must
check: the provider it went to, the nonce the ID token must carry and the PKCE code
verifier. It is a global table like ``users`` (no tenant is known before sign-in, so no
row-level security); the callback deletes its row while reading it, so a state works
once, and only for ten minutes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 07:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oidc_logins",
        sa.Column("state", sa.Text(), primary_key=True),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("nonce", sa.Text(), nullable=False),
        sa.Column("code_verifier", sa.Text(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),  # fmt: skip
    )
    # Expired rows are pruned by age; the index keeps that a range scan.
    op.create_index("ix_oidc_logins_created_at", "oidc_logins", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_oidc_logins_created_at", "oidc_logins")
    op.drop_table("oidc_logins")
