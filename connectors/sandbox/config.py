"""The sandbox's settings, as one frozen value built by the CLI or by tests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from connectors.sandbox.clock import Clock, SystemClock

__all__ = ["DEFAULT_REALM_IDS", "RealmSpec", "SandboxConfig", "WebhookTarget", "companies", "company_realm_id"]

# Realm ids look like QBO's (long digit strings); one per preset so `--preset fr` always gives the same id.
DEFAULT_REALM_IDS: Mapping[str, str] = {"fr": "9341450000000001", "us": "9341450000000002",
                                        "empty": "9341450000000003",
                                        "fr-demo": "9341450000000001"}  # the French company, with bills

TimeoutMode = Literal["raise", "delay"]
WebhookFormat = Literal["cloudevents", "legacy"]


@dataclass(frozen=True)
class RealmSpec:
    """One company: its realm id and the preset it starts from (``fr``, ``us`` or ``empty``)."""

    realm_id: str
    preset: str = "fr"


@dataclass(frozen=True)
class WebhookTarget:
    """A URL that receives change notifications, in one of QBO's two payload formats."""

    url: str
    format: WebhookFormat = "cloudevents"


def company_realm_id(number: int) -> str:
    """The realm id of company ``number`` (1-based) of a multi-company sandbox: ``9341450000000001``, ``…0002``…

    The first ids are the presets' default ids, so company 1 of ``--companies N`` is the usual FR realm.
    """
    if not 1 <= number <= 99_999_999:
        raise ValueError(f"company number {number} is out of range (1 to 99999999)")
    return f"93414500{number:08d}"


def companies(count: int, presets: tuple[str, ...] = ("fr",)) -> tuple[RealmSpec, ...]:
    """``count`` companies with distinct realm ids, taking the presets in turn (fr, us, fr, us… for two)."""
    if count < 1:
        raise ValueError("a sandbox needs at least one company")
    if not presets:
        raise ValueError("give at least one preset")
    return tuple(RealmSpec(company_realm_id(n), presets[(n - 1) % len(presets)]) for n in range(1, count + 1))


def _default_realms() -> tuple[RealmSpec, ...]:
    return (RealmSpec(DEFAULT_REALM_IDS["fr"], "fr"),)


@dataclass(frozen=True)
class SandboxConfig:
    """Everything that changes how the sandbox behaves. Defaults model QBO; tests tighten or loosen them."""

    realms: tuple[RealmSpec, ...] = field(default_factory=_default_realms)
    # OAuth: one registered app. Empty redirect_uris accepts only http loopback callbacks (localhost, 127.0.0.1).
    client_id: str = "sandbox-client-id"
    client_secret: str = "sandbox-client-secret"
    redirect_uris: tuple[str, ...] = ()
    require_auth: bool = True
    static_tokens: tuple[str, ...] = ()  # bearer tokens valid for every realm, never expiring (tests, demos)
    token_ttl: float = 3600.0
    refresh_token_ttl: float = 8_726_400.0
    refresh_grace: float = 60.0  # seconds a rotated-out refresh token keeps working
    # The service's pace and failures.
    latency_ms: float = 0.0
    fault_rate: float = 0.0
    seed: int = 0
    timeout_mode: TimeoutMode = "raise"
    timeout_delay: float = 125.0  # QBO cuts requests at 120 s; a "timeout" answers after this delay
    requests_per_minute: int = 500
    batches_per_minute: int = 40
    max_concurrent: int = 10
    throttle_body: Literal["xml", "json"] = "xml"
    # Persistence and notifications.
    data_dir: Path | None = None
    webhooks: tuple[WebhookTarget, ...] = ()
    webhook_token: str = "sandbox-verifier-token"
    webhook_retry_delays: tuple[float, ...] = (10, 20, 30, 300, 1200, 7200, 14400, 21600)
    clock: Clock = field(default_factory=SystemClock, compare=False)

    @classmethod
    def with_companies(cls, count: int, presets: tuple[str, ...] = ("fr",), **settings: Any) -> SandboxConfig:
        """A config with ``count`` companies (see :func:`companies`), each with its own data, tokens and limits."""
        return cls(realms=companies(count, presets), **settings)

    @property
    def realm_ids(self) -> tuple[str, ...]:
        return tuple(spec.realm_id for spec in self.realms)
