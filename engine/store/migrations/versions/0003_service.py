"""The service: the embedded job queue, each profile's schedule and the shared QBO request budget."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True)


def upgrade() -> None:
    op.create_table(
        "jobs", _id(),
        sa.Column("profile", sa.String(128), nullable=False),
        sa.Column("realm", sa.String(64)),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("record", sa.String(255)),
        sa.Column("coalesce_key", sa.String(255)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("coalesced", sa.Integer, nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True)),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("error", sa.Text),
        sa.Column("result", sa.JSON),
    )
    op.create_index("jobs_state", "jobs", ["state", "id"])
    op.create_index("jobs_profile", "jobs", ["profile", "id"])
    op.create_table(
        "schedules",
        sa.Column("profile", sa.String(128), primary_key=True),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_deferred_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "qbo_budget", _id(),
        sa.Column("realm", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("batch", sa.Boolean, nullable=False),
    )
    op.create_index("qbo_budget_realm_at", "qbo_budget", ["realm", "at"])


def downgrade() -> None:
    op.drop_table("qbo_budget")
    op.drop_table("schedules")
    op.drop_table("jobs")
