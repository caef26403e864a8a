"""Bulk reads answer exactly what single reads answer: the record ``find`` returns for a match lookup
(first by Id, active name-list records only, QBO's case-insensitive text comparison), and what ``get``
returns by id (None when gone). Random names and lookups, checked against the sandbox."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.qbo import bulk
from connectors.qbo.auth import BearerAuth, StaticToken
from connectors.qbo.client import QboClient
from connectors.qbo.config import ClientSettings, LimitSpec, RetryPolicy
from connectors.qbo.inprocess import AsgiBridge
from connectors.qbo.limiter import RateLimiter
from connectors.sandbox import RealmSpec, Sandbox, create_app, sandbox_of
from connectors.sandbox.testing import TEST_TOKEN, test_config
from tests.connectors.qbo.helpers import FR, fr_invoice

NAME = st.text(alphabet="abcABCéÉßẞİ\u0131'\\% -09", min_size=1, max_size=8).map(str.strip).filter(bool)


@contextmanager
def company(page_size: int = 1000) -> Iterator[tuple[Sandbox, QboClient]]:
    app = create_app(test_config(realms=(RealmSpec(FR, "fr"),)))
    sandbox = sandbox_of(app)
    with httpx.Client(transport=AsgiBridge(app), base_url="http://sandbox.test") as http:
        retry = RetryPolicy(max_attempts=1, sleep=lambda s: None, rng=random.Random(1))
        client = QboClient(http, ClientSettings(realm_id=FR, profile="t/p", retry=retry, page_size=page_size),
                           auth=BearerAuth(StaticToken(TEST_TOKEN)),
                           limiter=RateLimiter(LimitSpec(per_minute=100_000), sleep=lambda s: None))
        try:
            yield sandbox, client
        finally:
            sandbox.close()


def _vary(rng: random.Random, text: str) -> str:
    return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in text)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(names=st.lists(NAME, max_size=12), inactive=st.sets(st.integers(0, 11)), others=st.lists(NAME, max_size=6),
       seed=st.integers(0, 1000))
def test_a_bulk_match_is_the_record_a_single_query_finds(names: list[str], inactive: set[int], others: list[str],
                                                          seed: int) -> None:
    rng = random.Random(seed)
    with company(page_size=5) as (sandbox, client):  # small pages: answers span several of them
        for n, name in enumerate(dict.fromkeys(names)):
            try:
                created = sandbox.write(FR, "Customer", {"DisplayName": name})
            except Exception:  # a name the company refuses (a clash by case): not part of the data
                continue
            if n in inactive:
                sandbox.write(FR, "Customer", {"Id": created["Id"], "SyncToken": created["SyncToken"],
                                               "sparse": True, "Active": False})
        lookups = [_vary(rng, name) for name in names] + others
        wanted = [("Customer", (("DisplayName", value),)) for value in lookups]
        answered = bulk.find_many(client, wanted)
        assert set(answered) == set(wanted)  # every text lookup is answered in bulk
        for entity, criteria in wanted:
            single = client.find(entity, dict(criteria))
            found = answered[(entity, criteria)]
            assert (found or {}).get("Id") == (single or {}).get("Id"), criteria


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(numbers=st.lists(st.sampled_from(["F1", "f1", "F2", "X'1", "A\\b", "f2"]), min_size=1, max_size=8),
       lookups=st.lists(st.sampled_from(["F1", "f1", "F2", "x'1", "a\\B", "F3", "2024-01-01"]), max_size=8))
def test_duplicate_document_numbers_match_the_first_by_id(numbers: list[str], lookups: list[str]) -> None:
    with company(page_size=3) as (sandbox, client):
        for number in numbers:
            sandbox.write(FR, "Invoice", fr_invoice(number), allow_duplicate_docnum=True)
        wanted = [("Invoice", (("DocNumber", value),)) for value in lookups]
        answered = bulk.find_many(client, wanted)
        for entity, criteria in wanted:
            if bulk.text_key(criteria[0][1]) is None:
                assert (entity, criteria) not in answered  # a date-shaped value is left to the single query
                continue
            single = client.find(entity, dict(criteria))
            assert (answered[(entity, criteria)] or {}).get("Id") == (single or {}).get("Id"), criteria


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(count=st.integers(0, 7), deleted=st.sets(st.integers(0, 6)), bogus=st.lists(st.integers(900, 999), max_size=3))
def test_records_by_id_in_bulk_are_what_get_reads(count: int, deleted: set[int], bogus: list[int]) -> None:
    with company(page_size=2) as (sandbox, client):
        ids = []
        for n in range(count):
            created = sandbox.write(FR, "Invoice", fr_invoice(f"G{n}"))
            ids.append(str(created["Id"]))
            if n in deleted:
                sandbox.write(FR, "Invoice", {"Id": created["Id"], "SyncToken": created["SyncToken"]}, "delete")
        customer = sandbox.write(FR, "Customer", {"DisplayName": "Gone Ltd"})
        sandbox.write(FR, "Customer", {"Id": customer["Id"], "SyncToken": customer["SyncToken"], "sparse": True,
                                       "Active": False})
        wanted = [("Invoice", i) for i in ids + [str(b) for b in bogus]] + [("Customer", str(customer["Id"]))]
        answered = bulk.get_many(client, wanted)
        assert set(answered) == set(wanted)
        for entity, entity_id in wanted:
            try:
                single: dict[str, object] | None = client.get(entity, entity_id)
            except Exception:
                single = None
            got = answered[(entity, entity_id)]
            assert (got or {}).get("SyncToken") == (single or {}).get("SyncToken")
            assert (got or {}).get("Id") == (single or {}).get("Id")


def test_a_row_that_cannot_be_compared_leaves_the_lookups_to_single_queries() -> None:
    with company() as (sandbox, client):
        total = str(sandbox.write(FR, "Invoice", fr_invoice("N1"))["TotalAmt"])
        answered = bulk.find_many(client, [("Invoice", (("TotalAmt", total),)), ("Invoice", (("DocNumber", 5),))])
        assert answered == {}  # a number is not text; TotalAmt rows hold numbers: neither is answered here
