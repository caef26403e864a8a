"""An offline QuickBooks Online Accounting API v3 server: ``passerelle sandbox``.

Public API::

    from connectors.sandbox import SandboxConfig, create_app, sandbox_of, serve

    app = create_app(SandboxConfig(static_tokens=("test-token",)))
    sandbox = sandbox_of(app)              # realms, fixtures, tokens, fault scripts, webhooks
    with serve(app) as base_url:           # real HTTP on a free loopback port, in a thread
        ...
"""

from connectors.sandbox.app import create_app, sandbox_of
from connectors.sandbox.clock import Clock, ManualClock, SystemClock
from connectors.sandbox.config import DEFAULT_REALM_IDS, RealmSpec, SandboxConfig, WebhookTarget, companies, company_realm_id
from connectors.sandbox.errors import QboError
from connectors.sandbox.faults import FaultInjector, FaultKind, FaultRule, InjectedFault
from connectors.sandbox.load import RealmLoad
from connectors.sandbox.oauth import TokenSet
from connectors.sandbox.operations import Change
from connectors.sandbox.sandbox import Sandbox
from connectors.sandbox.server import serve
from connectors.sandbox.webhooks import Delivery, sign

__all__ = [
    "DEFAULT_REALM_IDS", "Change", "Clock", "Delivery", "FaultInjector", "FaultKind", "FaultRule", "InjectedFault",
    "ManualClock", "QboError", "RealmLoad", "RealmSpec", "Sandbox", "SandboxConfig", "SystemClock", "TokenSet",
    "WebhookTarget", "companies", "company_realm_id", "create_app", "sandbox_of", "serve", "sign",
]
