"""``passerelle serve``: open a session per ``--profile`` and serve the app with uvicorn."""

from __future__ import annotations

from contextlib import ExitStack

import click

from engine.cli.output import handle_errors

__all__ = ["serve"]


@click.command()
@click.option("--profile", "profiles", multiple=True, required=True, help="PROFILE to serve (repeatable).")
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--cdc-every", default=900.0, show_default=True, type=float,
              help="Seconds between change-data-capture sweeps (0: only at start-up).")
@handle_errors
def serve(profiles: tuple[str, ...], port: int, host: str, cdc_every: float) -> None:
    """Receive QBO and product webhooks, run one-record syncs, report status (see docs/serve.md)."""
    import uvicorn

    from engine.cli.session import open_session
    from engine.serve.app import create_app
    from engine.serve.profiles import served_profile
    from engine.serve.worker import WorkerOptions
    from engine.store import open_store

    store = open_store()
    with ExitStack() as stack:
        served = [served_profile(stack.enter_context(open_session(spec, store=store))) for spec in profiles]
        for item in served:
            if not item.verifier:
                click.echo(f"warning: {item.key}: no webhook verifier token (webhook_verifier secret or "
                           "PASSERELLE_QBO_WEBHOOK_TOKEN): every QBO notification will be refused", err=True)
            click.echo(f"serving {item.key} (realm {item.realm})")
        app = create_app(store, served, WorkerOptions(cdc_every=cdc_every or None))
        uvicorn.run(app, host=host, port=port, log_level="info")
