"""Indexes by record for apply's grouped writes: the outbox's unsettled writes of a batch's records and the
open errors a batch resolves are found by (profile, flow, source_key) without scanning the profile's rows,
so the cost of a document does not grow with the outbox and the error history."""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_index("outbox_record", "outbox", ["profile", "flow", "source_key"])
    op.create_index("errors_record", "errors", ["profile", "flow", "source_key"])


def downgrade() -> None:
    op.drop_index("errors_record", table_name="errors")
    op.drop_index("outbox_record", table_name="outbox")
