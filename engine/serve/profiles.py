"""The profiles a server serves: each one's open session, its QBO realm and the secrets checking its events."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.cli.session import Session
from engine.resolve import ResolvedPack

__all__ = ["ProductEvents", "Served", "event_specs", "seconds", "served_profile"]

TOKEN_VARIABLE = "PASSERELLE_QBO_WEBHOOK_TOKEN"


@dataclass(frozen=True)
class ProductEvents:
    """A product connection's ``events`` block: how its webhooks are signed, or how often to poll it."""

    connection: str
    secret: str | None
    signature_header: str
    type_field: str = "type"
    record_field: str = "data"
    poll_every: float | None = None


@dataclass(frozen=True)
class Served:
    session: Session
    realm: str
    verifier: str | None
    products: Mapping[str, ProductEvents] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.session.key


def _secret(ref: Any, secrets: Mapping[str, str], env: Mapping[str, str]) -> str | None:
    """A ``{secret: NAME}`` reference, through the profile's secrets mapping (NAME -> variable)."""
    if not isinstance(ref, Mapping) or "secret" not in ref:
        return None
    variable = secrets.get(str(ref["secret"]))
    return env.get(variable) if variable else None


def seconds(value: Any) -> float | None:
    if value in (None, ""):
        return None
    text = str(value).strip()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if text[-1:] in units:
        return float(text[:-1]) * units[text[-1]]
    return float(text)


def event_specs(resolved: ResolvedPack, env: Mapping[str, str] | None = None
                ) -> tuple[str | None, Mapping[str, ProductEvents]]:
    """A profile's QBO webhook verifier token and its product connections' ``events`` blocks."""
    variables = os.environ if env is None else env
    verifier = None
    products: dict[str, ProductEvents] = {}
    for name, conn in resolved.connections.items():
        if conn.connector == "qbo":
            verifier = verifier or _secret(conn.options.get("webhook_verifier"), resolved.secrets, variables)
        spec = conn.options.get("events")
        if isinstance(spec, Mapping):
            products[name] = ProductEvents(
                connection=name, secret=_secret(spec.get("secret"), resolved.secrets, variables),
                signature_header=str(spec.get("signature_header") or "X-Signature"),
                type_field=str(spec.get("type_field") or "type"), record_field=str(spec.get("record_field") or "data"),
                poll_every=seconds(spec.get("poll_every")))
    return verifier or variables.get(TOKEN_VARIABLE), products


def served_profile(session: Session, env: Mapping[str, str] | None = None) -> Served:
    """What the server needs of one open session; ``env`` defaults to the process environment."""
    verifier, products = event_specs(session.loaded.resolved, env)
    return Served(session=session, realm=str(session.target.client.realm_id), verifier=verifier, products=products)
