"""Initial store: connections, ledger, cursors, runs, errors, suspensions, outbox, events."""

from __future__ import annotations

from alembic import op

from engine.store.migrations.schema_0001 import metadata

revision = "0001"
down_revision = None


def upgrade() -> None:
    bind = op.get_bind()
    metadata.create_all(bind)


def downgrade() -> None:
    bind = op.get_bind()
    metadata.drop_all(bind)
