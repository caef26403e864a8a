"""Authentication: secrets come from the environment by the profile's mapping; each auth type is a registry entry.

A pack says ``token: {secret: api_token}``; the profile maps ``api_token`` to an environment variable name;
only here is the variable read. Values read are remembered so error messages can mask them.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.http.errors import Where, fail

__all__ = ["AUTH", "Secrets", "auth_headers"]


@dataclass
class Secrets:
    """Secret name -> environment variable name, and the environment to read it from."""

    names: Mapping[str, str]
    environ: Mapping[str, str]
    seen: set[str] = field(default_factory=set)

    def value(self, ref: Any, where: Where, role: str) -> str:
        name = ref.get("secret") if isinstance(ref, Mapping) else None
        if not name:
            raise fail("E903", where, f"auth needs a {role}", hint=f"declare {role}: {{secret: NAME}}")
        variable = self.names.get(str(name))
        if variable is None:
            raise fail("E903", where, f"secret {name!r} is not mapped to an environment variable",
                       hint=f"in the profile: secrets: {{{name}: {{env: VARIABLE}}}}")
        text = self.environ.get(variable, "")
        if not text:
            raise fail("E903", where, f"secret {name!r}: environment variable {variable} is not set",
                       hint=f"export {variable}=...")
        self.seen.add(text)
        return text


def _none(auth: Mapping[str, Any], secrets: Secrets, where: Where) -> dict[str, str]:
    return {}


def _bearer(auth: Mapping[str, Any], secrets: Secrets, where: Where) -> dict[str, str]:
    return {"Authorization": f"Bearer {secrets.value(auth.get('token'), where, 'token')}"}


def _basic(auth: Mapping[str, Any], secrets: Secrets, where: Where) -> dict[str, str]:
    user = secrets.value(auth.get("username"), where, "username")
    password = secrets.value(auth.get("password"), where, "password")
    encoded = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    secrets.seen.add(encoded)
    return {"Authorization": f"Basic {encoded}"}


def _header(auth: Mapping[str, Any], secrets: Secrets, where: Where) -> dict[str, str]:
    name = auth.get("header")
    if not name:
        raise fail("E903", where, "auth type header needs a header name", hint="header: X-Api-Key")
    return {str(name): secrets.value(auth.get("token"), where, "token")}


AUTH: Mapping[str, Callable[[Mapping[str, Any], Secrets, Where], dict[str, str]]] = {
    "none": _none, "bearer": _bearer, "basic": _basic, "header": _header,
}


def auth_headers(auth: Mapping[str, Any], secrets: Secrets, where: Where) -> dict[str, str]:
    kind = str(auth.get("type", "none"))
    if kind not in AUTH:
        raise fail("E903", where, f"unknown auth type {kind!r}", hint=f"one of {', '.join(AUTH)}")
    return AUTH[kind](auth, secrets, where)
