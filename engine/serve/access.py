"""Who may read the status of the profiles a server runs: the same rule for `passerelle serve` and `passerelle run`.

Status, jobs and progress name every profile served; with an admin token set (``PASSERELLE_ADMIN_TOKEN``) they
need it as a bearer token. Without one (a server on loopback, a developer's machine) they stay open, and
what changes anything (queueing a job) stays refused.
"""

from __future__ import annotations

import hmac
import os

from starlette.requests import Request

__all__ = ["ADMIN_TOKEN_VARIABLE", "is_admin", "may_read"]

ADMIN_TOKEN_VARIABLE = "PASSERELLE_ADMIN_TOKEN"


def is_admin(request: Request) -> bool:
    token = os.environ.get(ADMIN_TOKEN_VARIABLE)
    given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    return bool(token) and hmac.compare_digest(given.encode(), str(token).encode())


def may_read(request: Request) -> bool:
    return not os.environ.get(ADMIN_TOKEN_VARIABLE) or is_admin(request)
