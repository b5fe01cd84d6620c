"""Documents of any kind: a project says which kind it is, a run says which kind it
writes, and an exhibit keeps the label its user chose.

- ``projects.kind`` (``plan`` for the four-step plan, else a document kind such as
  ``petition``), ``projects.case_ref`` (the user's own reference for a document) and
  ``projects.inputs`` (the values of the kind's input fields);
  ``projects.exhibit_seq`` counts the exhibits ever added, so an automatic label
  (``E<n>``) is never given twice, even after a deletion.
- ``runs.kind``: the kind a run writes (a plan step's kind, or the document's);
  ``runs.step`` is null for a run that is no plan step; ``runs.template_id`` pins the
  tenant template version a run writes (null for a built-in kind);
  ``runs.sections_expected``: what its kind expects when it is created, so progress is
  one query (0 on older runs: the kind is asked then).
- ``exhibits.label``: ``1.1.A`` or ``E3``: unique within its project (case-insensitive),
  never renumbered. Existing exhibits get ``E<n>`` in upload order, as they were shown.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 09:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STEP_KINDS = {1: "about", 2: "specs", 3: "architecture", 4: "plan_overview"}


def upgrade() -> None:
    op.add_column(
        "projects", sa.Column("kind", sa.String(60), nullable=False, server_default="plan")
    )
    op.add_column("projects", sa.Column("case_ref", sa.String(120)))
    op.add_column(
        "projects",
        sa.Column("inputs", postgresql.JSONB(), nullable=False, server_default="{}"),
    )
    op.add_column(
        "projects", sa.Column("exhibit_seq", sa.Integer(), nullable=False, server_default="0")
    )
    op.create_index(
        "ix_projects_tenant_id_kind_created_at", "projects", ["tenant_id", "kind", "created_at"]
    )

    op.add_column("runs", sa.Column("kind", sa.String(60), nullable=True))
    cases = " ".join(f"when {step} then '{kind}'" for step, kind in STEP_KINDS.items())
    op.execute(f"update runs set kind = case step {cases} end")
    op.alter_column("runs", "kind", nullable=False)
    op.alter_column("runs", "step", nullable=True)
    op.drop_constraint(op.f("ck_runs_step"), "runs")
    op.create_check_constraint(op.f("ck_runs_step"), "runs", "step is null or step between 1 and 4")
    op.add_column("runs", sa.Column("template_id", sa.Uuid()))
    op.add_column(
        "runs",
        sa.Column("sections_expected", sa.Integer(), nullable=False, server_default="0"),
    )

    op.add_column("exhibits", sa.Column("label", sa.String(40), nullable=True))
    op.execute(
        """
        update exhibits e set label = 'E' || n.rank
        from (
            select tenant_id, id,
                   row_number() over (partition by tenant_id, project_id
                                      order by created_at, id) as rank
            from exhibits
        ) n
        where n.tenant_id = e.tenant_id and n.id = e.id
        """
    )
    op.execute(
        """
        update projects p set exhibit_seq = c.count
        from (select tenant_id, project_id, count(*) as count from exhibits
              group by tenant_id, project_id) c
        where c.tenant_id = p.tenant_id and c.project_id = p.id
        """
    )
    op.alter_column("exhibits", "label", nullable=False)
    op.create_index(
        "uq_exhibits_tenant_id_project_id_label",
        "exhibits",
        ["tenant_id", "project_id", sa.text("lower(label)")],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_exhibits_tenant_id_project_id_label", "exhibits")
    op.drop_column("exhibits", "label")
    op.drop_column("runs", "sections_expected")
    op.drop_column("runs", "template_id")
    op.execute("delete from runs where step is null")
    op.drop_constraint(op.f("ck_runs_step"), "runs")
    op.create_check_constraint(op.f("ck_runs_step"), "runs", "step BETWEEN 1 AND 4")
    op.alter_column("runs", "step", nullable=False)
    op.drop_column("runs", "kind")
    op.drop_index("ix_projects_tenant_id_kind_created_at", "projects")
    for column in ("exhibit_seq", "inputs", "case_ref", "kind"):
        op.drop_column("projects", column)
