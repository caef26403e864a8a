"""The store's tables, as SQLAlchemy Core metadata (the migrations create exactly these).

Every row is keyed by the customer profile, so one database can hold many customers and a run
is one job per profile (a queue can later run many at once).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = ["connections", "cursors", "errors", "events", "jobs", "ledger", "metadata", "outbox", "qbo_budget", "runs",
           "schedules", "suspensions"]

metadata = MetaData()

connections = Table(
    "connections", metadata,
    Column("profile", String(128), primary_key=True),
    Column("realm_id", String(64), nullable=False),
    Column("access_token", LargeBinary, nullable=False),   # encrypted
    Column("refresh_token", LargeBinary, nullable=False),  # encrypted
    Column("previous_refresh_token", LargeBinary),         # encrypted; kept until the new one is proven
    Column("access_expires_at", DateTime(timezone=True), nullable=False),
    Column("refresh_expires_at", DateTime(timezone=True)),
    Column("version", Integer, nullable=False, default=0),  # optimistic concurrency for rotation
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("lease_owner", String(64)),                     # the process refreshing the tokens now (0002)
    Column("lease_until", DateTime(timezone=True)),        # when that lease lapses if the process died
)

ledger = Table(
    "ledger", metadata,
    Column("profile", String(128), primary_key=True),
    Column("flow", String(64), primary_key=True),
    Column("source_key", Text, primary_key=True),  # a product's own key: any length (0004)
    Column("target_entity", String(64), nullable=False),
    Column("target_id", String(64)),
    Column("sync_token", String(32)),
    Column("payload_hash", String(64)),
    Column("fields", JSON),          # the owned fields as last written (conflict detection, field refs)
    Column("state", String(64)),     # machine state of the record
    Column("origin", String(16), nullable=False, default="passerelle"),
    Column("last_updated", String(40)),  # the target's LastUpdatedTime after our write
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
Index("ledger_target", ledger.c.profile, ledger.c.target_entity, ledger.c.target_id)

cursors = Table(
    "cursors", metadata,
    Column("profile", String(128), primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

runs = Table(
    "runs", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("profile", String(128), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # plan, apply, sync
    Column("status", String(16), nullable=False),  # running, done, failed, interrupted
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("total", Integer, nullable=False, default=0),
    Column("done", Integer, nullable=False, default=0),
    Column("counts", JSON),
)

errors = Table(
    "errors", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("profile", String(128), nullable=False, index=True),
    Column("flow", String(64), nullable=False),
    Column("source_key", Text, nullable=False),
    Column("run_id", BigInteger),
    Column("fault_class", String(16), nullable=False),  # config, data, transient, conflict
    Column("code", String(16)),
    Column("message", Text, nullable=False),
    Column("hint", Text),
    Column("status", String(16), nullable=False, default="open"),  # open, resynced, resolved
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("resolved_at", DateTime(timezone=True)),
)
Index("errors_record", errors.c.profile, errors.c.flow, errors.c.source_key)  # a batch's open errors (0005)

suspensions = Table(
    "suspensions", metadata,
    Column("profile", String(128), primary_key=True),
    Column("until", String(10), nullable=False),  # ISO date
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

outbox = Table(
    "outbox", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("profile", String(128), nullable=False),
    Column("run_id", BigInteger),
    Column("flow", String(64), nullable=False),
    Column("source_key", Text, nullable=False),
    Column("action", String(16), nullable=False),  # create, update, void, delete, attach, link
    Column("entity", String(64), nullable=False),
    Column("request_id", String(50), nullable=False),
    Column("payload", JSON),
    Column("status", String(16), nullable=False, default="planned"),  # planned, sent, done, failed, uncertain
    Column("response", JSON),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("profile", "request_id", name="outbox_request"),
)
Index("outbox_record", outbox.c.profile, outbox.c.flow, outbox.c.source_key)  # a batch's unsettled writes (0005)

events = Table(
    "events", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("source", String(64), nullable=False),   # qbo or a product connection name
    Column("dedupe_key", String(255), nullable=False),
    Column("profile", String(128)),
    Column("body", JSON, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("processed_at", DateTime(timezone=True)),
    UniqueConstraint("source", "dedupe_key", name="events_dedupe"),
)

# -- the service (0003) ----------------------------------------------------------------------------------

jobs = Table(  # the embedded job queue; with PostgreSQL the queue is procrastinate's own tables
    "jobs", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("profile", String(128), nullable=False),
    Column("realm", String(64)),                 # jobs of one QBO company run one at a time
    Column("kind", String(16), nullable=False),  # scheduled, event, manual, resync, first
    Column("record", Text),                      # a one-record job's source key, or an error id (0004: any length)
    Column("coalesce_key", Text),                # a queued job with the same key absorbs a new request
    Column("state", String(16), nullable=False),  # queued, running, done, failed, retried
    Column("attempts", Integer, nullable=False, default=0),
    Column("coalesced", Integer, nullable=False, default=0),
    Column("not_before", DateTime(timezone=True)),
    Column("queued_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("error", Text),
    Column("result", JSON),
    Index("jobs_state", "state", "id"),
    Index("jobs_profile", "profile", "id"),
)

schedules = Table(  # when each profile's next automatic sync is due
    "schedules", metadata,
    Column("profile", String(128), primary_key=True),
    Column("next_run_at", DateTime(timezone=True), nullable=False),
    Column("last_deferred_at", DateTime(timezone=True)),
)

qbo_budget = Table(  # requests sent to each QBO company in the last minute, shared by every process
    "qbo_budget", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("realm", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("batch", Boolean, nullable=False, default=False),
    Index("qbo_budget_realm_at", "realm", "at"),
)
