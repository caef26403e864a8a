from __future__ import annotations

import base64
import hashlib
import hmac

from engine.serve.signature import product_signature_ok, qbo_signature_ok

LEGACY = (b'{"eventNotifications":[{"realmId":"1185883450","dataChangeEvent":{"entities":[{"name":"Customer",'
          b'"id":"1","operation":"Create","lastUpdated":"2015-10-05T14:42:19-0700"}]}}]}')


def test_intuit_test_vector_is_accepted() -> None:
    assert qbo_signature_ok(LEGACY, "JC2GUwciPmRBwEO7WvrRmKqu9tGOKL8FFallocTFi8Q=", "b5771f19b12ddb4bcdb9f08bdc50bc63878a")


def test_missing_wrong_or_tokenless_signatures_are_refused() -> None:
    token = "b5771f19b12ddb4bcdb9f08bdc50bc63878a"
    assert not qbo_signature_ok(LEGACY, None, token)
    assert not qbo_signature_ok(LEGACY, "", token)
    assert not qbo_signature_ok(LEGACY + b" ", "JC2GUwciPmRBwEO7WvrRmKqu9tGOKL8FFallocTFi8Q=", token)
    assert not qbo_signature_ok(LEGACY, "JC2GUwciPmRBwEO7WvrRmKqu9tGOKL8FFallocTFi8Q=", None)
    assert not qbo_signature_ok(LEGACY, "é", token)


def test_product_signatures_in_hex_prefixed_hex_or_base64() -> None:
    digest = hmac.new(b"s3cret", b"{}", hashlib.sha256).digest()
    for header in (digest.hex(), "sha256=" + digest.hex(), digest.hex().upper(), base64.b64encode(digest).decode()):
        assert product_signature_ok(b"{}", header, "s3cret"), header
    assert not product_signature_ok(b"{}", digest.hex(), "other")
    assert not product_signature_ok(b"{}", None, "s3cret")
