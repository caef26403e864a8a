"""Product keys of any length: a product's record key (ledger, errors, outbox, a job's record) is text, not
255 characters (SQLite never enforced the length; PostgreSQL refused a longer key and aborted the write)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"

_COLUMNS = (("ledger", "source_key", False), ("errors", "source_key", False), ("outbox", "source_key", False),
            ("jobs", "record", True), ("jobs", "coalesce_key", True))


def upgrade() -> None:
    for table, column, nullable in _COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, type_=sa.Text(), existing_type=sa.String(255), existing_nullable=nullable)


def downgrade() -> None:
    for table, column, nullable in _COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, type_=sa.String(255), existing_type=sa.Text(), existing_nullable=nullable)
