"""Which QBO company a profile's ledger belongs to.

The ledger maps product records to QBO ids; those ids only mean something in the company they were written
to. The realm is kept next to the ledger (a row of the ``cursors`` table named ``ledger:realm``) every time
a run opens the QBO side. A profile whose ledger holds entries refuses another company: ``passerelle connect
PROFILE --new-company`` is the only way to start a fresh ledger for it (the old entries are removed, the run
history stays).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from engine.errors import PasserelleError, RuleError
from engine.store import Store
from engine.store.tables import connections, cursors, ledger, outbox

__all__ = ["REALM_CURSOR", "bind_ledger_realm", "check_ledger_realm", "different_company", "ledger_realm",
           "start_fresh_ledger"]

REALM_CURSOR = "ledger:realm"


def _has_entries(conn: sa.Connection, profile: str) -> bool:
    return conn.execute(sa.select(ledger.c.source_key).where(ledger.c.profile == profile).limit(1)).first() is not None


def ledger_realm(store: Store, profile: str) -> str | None:
    """The company the profile's ledger was written in, or None when the ledger is empty.

    A ledger written before the realm was recorded belongs to the company the profile is connected to."""
    with store.engine.connect() as conn:
        if not _has_entries(conn, profile):
            return None
        recorded = conn.execute(sa.select(cursors.c.value).where(cursors.c.profile == profile,
                                                                  cursors.c.name == REALM_CURSOR)).scalar()
        if recorded is None:
            recorded = conn.execute(sa.select(connections.c.realm_id)
                                    .where(connections.c.profile == profile)).scalar()
    return str(recorded) if recorded else None


def bind_ledger_realm(store: Store, profile: str, realm: str) -> None:
    """Record ``realm`` as the company of the profile's ledger."""
    now = dt.datetime.now(dt.UTC)
    where = (cursors.c.profile == profile) & (cursors.c.name == REALM_CURSOR)
    with store.engine.begin() as conn:
        if conn.execute(sa.update(cursors).where(where).values(value=realm, updated_at=now)).rowcount == 0:
            conn.execute(sa.insert(cursors).values(profile=profile, name=REALM_CURSOR, value=realm, updated_at=now))


def different_company(store: Store, profile: str, realm: str) -> RuleError | None:
    """The error when the profile's ledger was written in another company than ``realm``."""
    current = ledger_realm(store, profile)
    if current is None or current == realm:
        return None
    return RuleError("E706", f"profile {profile!r} has synced with QBO company {current}; company {realm} is a "
                             "different company, whose records the ledger does not know", None,
                     hint=f"connect company {current} again, or start a fresh ledger for company {realm} with "
                          f"`passerelle connect {profile} --new-company` (the records synced so far are forgotten)")


def check_ledger_realm(store: Store, profile: str, realm: str) -> None:
    """Before a run: refuse another company than the ledger's; otherwise record ``realm`` as the ledger's."""
    error = different_company(store, profile, realm)
    if error is not None:
        raise PasserelleError([error])
    bind_ledger_realm(store, profile, realm)


def start_fresh_ledger(store: Store, profile: str, realm: str) -> int:
    """Forget the profile's ledger, read positions and outbox (a new company); returns how many ledger entries
    were removed. Runs and errors stay as history."""
    with store.engine.begin() as conn:
        removed = conn.execute(sa.delete(ledger).where(ledger.c.profile == profile)).rowcount
        conn.execute(sa.delete(cursors).where(cursors.c.profile == profile))
        conn.execute(sa.delete(outbox).where(outbox.c.profile == profile))  # its request ids are the old company's
    bind_ledger_realm(store, profile, realm)
    return int(removed or 0)
