"""The state store: ledger, cursors, runs, errors, suspensions, outbox, events and OAuth tokens."""

from engine.store.db import Store, open_store, state_url

__all__ = ["Store", "open_store", "state_url"]
