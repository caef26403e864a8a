"""Signatures of incoming notifications, compared in constant time over the raw body."""

from __future__ import annotations

import base64
import hashlib
import hmac

__all__ = ["product_signature_ok", "qbo_signature_ok"]


def _digest(body: bytes, secret: str) -> bytes:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()


def qbo_signature_ok(body: bytes, header: str | None, token: str | None) -> bool:
    """``intuit-signature`` is base64(HMAC-SHA256(verifier token, raw body))."""
    if not header or not token:
        return False
    expected = base64.b64encode(_digest(body, token)).decode("ascii")
    return hmac.compare_digest(expected.encode("ascii"), header.strip().encode("ascii", "replace"))


def product_signature_ok(body: bytes, header: str | None, secret: str | None) -> bool:
    """HMAC-SHA256 of the raw body, hex (optionally ``sha256=``-prefixed) or base64: products differ."""
    if not header or not secret:
        return False
    value = header.strip()
    if value.lower().startswith("sha256="):
        value = value[7:]
    digest = _digest(body, secret)
    given = value.encode("ascii", "replace")
    hex_ok = hmac.compare_digest(digest.hex().encode("ascii"), given.lower())
    b64_ok = hmac.compare_digest(base64.b64encode(digest), given)
    return hex_ok or b64_ok
