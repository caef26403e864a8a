"""The web console of ``passerelle run``: pages over the service's store and commands (see docs/console.md)."""
