"""The sandbox under hostile input: LIKE cannot backtrack, malformed bodies, bad UTF-8, JSON of the wrong
type, absurd numbers and wrong field types answer QBO-style faults (never a 500 or a traceback), and the
authorize endpoint redirects only to registered URIs."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.sandbox import ManualClock, RealmSpec, SandboxConfig, create_app
from connectors.sandbox.query import like
from connectors.sandbox.testing import InProcessClient, test_config
from tests.connectors.sandbox.helpers import FR, US, fault_code

JSON = {"Content-Type": "application/json"}


def _regex_like(text: str, pattern: str) -> bool:
    """The reference semantics (the old, backtracking implementation)."""
    regex = ".*".join(re.escape(part) for part in pattern.casefold().split("%"))
    return re.fullmatch(regex, text.casefold(), re.DOTALL) is not None


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(st.text("aAb%é", max_size=12), st.text("aAbé", max_size=12))
def test_like_matches_as_the_regex_did(pattern: str, text: str) -> None:
    assert like(text, pattern) == _regex_like(text, pattern)


def _adversarial_like() -> int:
    """A 500-character name and a 40-wildcard pattern that never matches: a backtracking matcher
    explores on the order of 500^40 placements; the linear one a few thousand steps."""
    with InProcessClient(create_app(test_config(realms=(RealmSpec(US, "us"),)))) as client:
        assert client.create("Customer", {"DisplayName": "a" * 499 + "c"}, US).status_code == 200
        response = client.query("select * from Customer where DisplayName like '" + "%a" * 40 + "%b'", US)
        assert response.status_code == 200, response.text
        return len(response.json()["QueryResponse"].get("Customer", []))


def test_like_answers_an_adversarial_pattern() -> None:
    """The answer only: how long it takes is bench/fuzz.py's `sandbox_like_adversarial_ms`."""
    assert _adversarial_like() == 0


@pytest.fixture
def client() -> Any:
    with InProcessClient(create_app(test_config(realms=(RealmSpec(FR, "fr"), RealmSpec(US, "us")),
                                                clock=ManualClock()))) as c:
        yield c


def _fault(response: Any, status: int = 400) -> tuple[str, str]:
    assert response.status_code == status, response.text
    error = response.json()["Fault"]["Error"][0]
    return error["code"], error["Detail"]


@pytest.mark.parametrize(("body", "code", "detail"), [
    (b"[1, 2]", "2010", "must be a Customer object"),
    (b"3", "2010", "must be a Customer object"),
    (b"null", "2010", "must be a Customer object"),
    (b"[" * 200_000, "2010", "nested too deeply"),
    (b"\xff\xfe{}", "2010", "not valid JSON"),
    (b'{"DisplayName": "x", "Notes": ' + b"9" * 5000 + b"}", "2010", "not valid JSON"),
    (b'{"DisplayName": ["a"]}', "2010", "DisplayName out of START_ARRAY"),
    (b'{"DisplayName": {"a": 1}}', "2010", "DisplayName out of START_OBJECT"),
    (b'{"DisplayName": "y", "PrimaryEmailAddr": "x@example.com"}', "2010", "PrimaryEmailAddr"),
    (b'{"DisplayName": "z", "BillAddr": 5}', "2010", "BillAddr"),
    (b'{"DisplayName": "t", "CurrencyRef": "EUR"}', "2010", "CurrencyRef"),
])
def test_malformed_customer_bodies_are_faults(client: InProcessClient, body: bytes, code: str, detail: str) -> None:
    got, message = _fault(client.post(f"{client.company()}/customer", content=body, headers=JSON))
    assert got == code and detail in message


def test_a_number_for_a_text_field_is_read_as_its_text(client: InProcessClient) -> None:
    response = client.post(f"{client.company()}/customer", content=b'{"DisplayName": 1234}', headers=JSON)
    assert response.status_code == 200 and response.json()["Customer"]["DisplayName"] == "1234"


def _invoice(client: InProcessClient, amount: str, qty: str, price: str) -> bytes:
    customer = client.sandbox.query(US, "select * from Customer maxresults 1")["Customer"][0]["Id"]
    item = client.sandbox.query(US, "select * from Item maxresults 1")["Item"][0]["Id"]
    line = (f'{{"Amount": {amount}, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": '
            f'{{"ItemRef": {{"value": "{item}"}}, "Qty": {qty}, "UnitPrice": {price}}}}}')
    return f'{{"CustomerRef": {{"value": "{customer}"}}, "TxnDate": "2025-01-01", "Line": [{line}]}}'.encode()


@pytest.mark.parametrize(("amount", "qty", "price", "element"), [
    ("1e400", "1", "1", "Line.Amount"), ("-1e30", "1", "1", "Line.Amount"),
    ("123456789012345678901234567890.5", "1", "1", "Line.Amount"),
    ("1", "1e300", "1e300", "Line.SalesItemLineDetail.Qty"),
])
def test_absurd_numbers_are_faults(client: InProcessClient, amount: str, qty: str, price: str, element: str) -> None:
    response = client.post(f"{client.company(US)}/invoice", content=_invoice(client, amount, qty, price), headers=JSON)
    code, detail = _fault(response)
    assert code == "2010" and "out of range" in detail and response.json()["Fault"]["Error"][0]["element"] == element


@pytest.mark.parametrize(("text", "fragment"), [
    ("select * from Customer startposition " + "9" * 5000, "is too large"),
    ("select * from Customer maxresults " + "9" * 5000, "is too large"),
    ("select * from Customer where DisplayName = '" + "x" * 1_000_001 + "'", "characters long"),
    ("select * from Customer where DisplayName = '\\", "QueryParserError"),
])
def test_hostile_queries_are_4000(client: InProcessClient, text: str, fragment: str) -> None:
    code, detail = _fault(client.post(f"{client.company()}/query", content=text.encode(),
                                      headers={"Content-Type": "application/text"}))
    assert code == "4000" and fragment in detail


def test_a_query_that_is_not_utf8_is_a_4000(client: InProcessClient) -> None:
    code, detail = _fault(client.post(f"{client.company()}/query", content=b"select * from Customer where x = '\xff'",
                                      headers={"Content-Type": "application/text"}))
    assert code == "4000" and "not UTF-8" in detail


def test_an_absurd_minorversion_is_a_fault(client: InProcessClient) -> None:
    response = client.get(f"{client.company()}/customer/1", params={"minorversion": "9" * 5000})
    assert _fault(response)[0] == "2010"


def test_a_batch_with_hostile_items_answers_every_item(client: InProcessClient) -> None:
    items = [5, {"bId": "1", "operation": "create", "Customer": {"DisplayName": "Good One"}},
             {"bId": "2", "operation": "create", "Customer": {"DisplayName": ["x"]}},
             {"bId": "3", "Query": "select * from Customer startposition " + "9" * 5000},
             {"bId": "4", "operation": "create", "Customer": {"DisplayName": "Good Two"}}]
    response = client.post(f"{client.company()}/batch", json={"BatchItemRequest": items})
    assert response.status_code == 200
    answers = response.json()["BatchItemResponse"]
    assert len(answers) == 5 and answers[0]["Fault"]["Error"][0]["code"] == "2010"
    by_id = {a["bId"]: a for a in answers[1:]}
    assert by_id["1"]["Customer"]["Id"] and by_id["4"]["Customer"]["Id"]
    assert by_id["2"]["Fault"]["Error"][0]["code"] == "2010" and by_id["3"]["Fault"]["Error"][0]["code"] == "4000"


@pytest.mark.parametrize(("registered", "uri", "allowed"), [
    ((), "http://localhost:8765/callback", True),
    ((), "http://127.0.0.1/cb", True),
    ((), "https://evil.example/steal", False),
    ((), "http://localhost.evil.example/cb", False),
    ((), "http://user@localhost/cb", False),
    ((), "javascript:alert(1)", False),
    (("https://app.example/callback",), "https://app.example/callback", True),
    (("https://app.example/callback",), "https://app.example/callback/../x", False),
    (("https://app.example/callback",), "http://localhost/cb", False),
])
def test_authorize_redirects_only_to_registered_uris(registered: tuple[str, ...], uri: str, allowed: bool) -> None:
    with InProcessClient(create_app(SandboxConfig(redirect_uris=registered)), token=None) as anonymous:
        response = anonymous.get("/connect/oauth2", params={
            "client_id": "sandbox-client-id", "response_type": "code", "redirect_uri": uri, "state": "s",
            "scope": "com.intuit.quickbooks.accounting"})
    if allowed:
        assert response.status_code in (302, 303) and response.headers["location"].startswith(uri)
    else:
        assert response.status_code == 400 and "location" not in response.headers
        assert "invalid_redirect_uri" in response.text


def test_fault_helper_reads_codes(client: InProcessClient) -> None:
    assert fault_code(client.get(f"{client.company()}/customer/nope")) == "610"
