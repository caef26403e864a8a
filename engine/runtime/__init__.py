"""The sync runtime: plan (read-only), apply (through the outbox), ledger, error history."""
