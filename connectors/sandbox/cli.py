"""``passerelle sandbox``: run the offline QBO server and print what a client needs to reach it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import click

from connectors.sandbox.config import DEFAULT_REALM_IDS, RealmSpec, SandboxConfig, WebhookTarget, companies

__all__ = ["build_config", "load_lines", "sandbox"]


def build_config(*, presets: tuple[str, ...], realms: tuple[str, ...], latency: float, faults: float,
                 token_ttl: float, data: Path | None, webhook_urls: tuple[str, ...], webhook_format: str,
                 webhook_token: str, static_token: tuple[str, ...], seed: int, no_auth: bool,
                 company_count: int | None = None) -> SandboxConfig:
    """The config the command's options describe (also used by tests of the command)."""
    return SandboxConfig(
        realms=_realms(presets, realms, company_count),
        latency_ms=latency, fault_rate=faults, token_ttl=token_ttl, data_dir=data, seed=seed,
        webhooks=tuple(WebhookTarget(url, webhook_format) for url in webhook_urls),  # type: ignore[arg-type]
        webhook_token=webhook_token, static_tokens=static_token, require_auth=not no_auth,
        timeout_mode="delay")


def _realms(presets: tuple[str, ...], realms: tuple[str, ...], company_count: int | None) -> tuple[RealmSpec, ...]:
    if company_count is not None:
        if realms:
            raise click.UsageError("--companies numbers the realms itself; drop --realm")
        if company_count < 1:
            raise click.UsageError("--companies needs at least 1")
        return companies(company_count, presets)
    if realms and len(realms) != len(presets):
        raise click.UsageError("give one --realm per --preset")
    ids = realms or tuple(DEFAULT_REALM_IDS[p] for p in presets)
    if len(set(ids)) != len(ids):
        raise click.UsageError("realm ids must be distinct; give --realm for repeated presets")
    return tuple(RealmSpec(realm_id, preset) for realm_id, preset in zip(ids, presets, strict=True))


@click.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8765, show_default=True, type=int, help="Port to listen on (0: any free port).")
@click.option("--preset", "presets", multiple=True, type=click.Choice(["fr", "fr-demo", "us", "empty"]),
              help="Company to start with; repeat for several realms.  [default: fr]")
@click.option("--realm", "realms", multiple=True, help="Realm id for each --preset, in order.")
@click.option("--companies", "company_count", type=int, default=None,
              help="Create N companies (realm ids 9341450000000001, …0002, …), taking the --preset values in turn.")
@click.option("--latency", default=0.0, type=float, help="Milliseconds added to every API request.")
@click.option("--faults", default=0.0, type=click.FloatRange(0, 1),
              help="Share of requests answered with a 5xx, a 429 or a timeout (writes: after commit).")
@click.option("--seed", default=0, type=int, help="Seed of the fault injector.")
@click.option("--token-ttl", default=3600.0, type=float, show_default=True, help="Access-token lifetime, seconds.")
@click.option("--data", type=click.Path(file_okay=False, path_type=Path),
              help="Directory where the companies are saved, so they survive a restart.")
@click.option("--webhook-url", "webhook_urls", multiple=True, help="URL to notify of changes (repeatable).")
@click.option("--webhook-format", type=click.Choice(["cloudevents", "legacy"]), default="cloudevents",
              show_default=True)
@click.option("--webhook-token", default="sandbox-verifier-token", show_default=True,
              help="Verifier token that signs notifications.")
@click.option("--static-token", multiple=True, help="A bearer token accepted for every realm, never expiring.")
@click.option("--no-auth", is_flag=True, help="Accept API calls without a bearer token.")
def sandbox(*, host: str, port: int, presets: tuple[str, ...], realms: tuple[str, ...], company_count: int | None,
            latency: float, faults: float, seed: int, token_ttl: float, data: Path | None, webhook_urls: tuple[str, ...],
            webhook_format: str, webhook_token: str, static_token: tuple[str, ...], no_auth: bool) -> None:
    """Run the offline QuickBooks Online API server."""
    import socket

    import uvicorn

    from connectors.sandbox.app import create_app, sandbox_of

    config = build_config(presets=presets or ("fr",), realms=realms, latency=latency, faults=faults,
                          token_ttl=token_ttl, data=data, webhook_urls=webhook_urls, webhook_format=webhook_format,
                          webhook_token=webhook_token, static_token=static_token, seed=seed, no_auth=no_auth,
                          company_count=company_count)
    app = create_app(config)
    state = sandbox_of(app)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    base = f"http://{host}:{sock.getsockname()[1]}"
    click.echo(f"QBO sandbox on {base}")
    click.echo(f"  API base URL:   {base}/v3   (company URLs: {base}/v3/company/<realmId>/...)")
    click.echo(f"  discovery:      {base}/.well-known/openid_configuration")
    for realm_id, realm in state.store.realms.items():
        click.echo(f"  realm {realm_id}  preset {realm.preset}  ({realm.country})")
    click.echo(f"  client id:      {config.client_id}")
    click.echo(f"  client secret:  {config.client_secret}")
    for realm_id in state.realm_ids:
        tokens = state.issue_token(realm_id)
        click.echo(f"  realm {realm_id}: access token {tokens.access_token}")
        click.echo(f"  {' ' * len(realm_id)}        refresh token {tokens.refresh_token}")
    click.echo(f"  webhook verifier token: {config.webhook_token}")
    click.echo(f"  load per company: {base}/admin/load", nl=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
    for line in load_lines(state.load_report()):
        click.echo(line)


def load_lines(report: Mapping[str, Mapping[str, int]]) -> list[str]:
    """The load report printed on exit: one line per company that was called."""
    return [f"load {realm_id}: " + " ".join(f"{key}={value}" for key, value in figures.items())
            for realm_id, figures in report.items() if figures["requests"] or figures["throttled"]]
