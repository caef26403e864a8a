"""python-quickbooks, unchanged, round-trips every entity added for third-party clients: save (create), get,
query, save again (full update of what it read), delete where QBO allows it."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from intuitlib.client import AuthClient
from quickbooks import QuickBooks
from quickbooks.exceptions import QuickbooksException
from quickbooks.objects.budget import Budget
from quickbooks.objects.deposit import Deposit
from quickbooks.objects.employee import Employee
from quickbooks.objects.estimate import Estimate
from quickbooks.objects.journalentry import JournalEntry
from quickbooks.objects.purchaseorder import PurchaseOrder
from quickbooks.objects.refundreceipt import RefundReceipt
from quickbooks.objects.taxagency import TaxAgency
from quickbooks.objects.timeactivity import TimeActivity
from quickbooks.objects.transfer import Transfer
from quickbooks.objects.vendorcredit import VendorCredit

from connectors.sandbox import Sandbox, serve
from connectors.sandbox.testing import test_config
from tests.connectors.sandbox import entity_payloads as pay
from tests.connectors.sandbox.helpers import FR

pytestmark = pytest.mark.e2e
_numbers = itertools.count(1)

# class -> (payload builder, the field to check after a round trip, its expected value)
DELETABLE: dict[type, tuple[Callable[[str], dict[str, Any]], str, Any]] = {
    Estimate: (lambda n: pay.estimate(f"PQ-D{n}"), "TotalAmt", 240),
    RefundReceipt: (lambda n: pay.refund_receipt(f"PQ-R{n}"), "TotalAmt", 36.93),
    VendorCredit: (lambda n: pay.vendor_credit(), "TotalAmt", 12),
    PurchaseOrder: (lambda n: pay.purchase_order(f"PQ-PO{n}"), "TotalAmt", 96),
    JournalEntry: (lambda n: pay.journal_entry(f"PQ-JE{n}"), "TotalAmt", 100),
    Deposit: (lambda n: pay.deposit(), "TotalAmt", 25),
    Transfer: (lambda n: pay.transfer(), "Amount", 250),
    TimeActivity: (lambda n: pay.time_activity(), "Hours", 3),
}


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Sandbox, str]]:
    state = Sandbox(test_config(requests_per_minute=100_000))
    with serve(state) as base:
        yield state, base
    state.close()


@pytest.fixture
def qb(served: tuple[Sandbox, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    state, base = served
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    auth = AuthClient(state.config.client_id, state.config.client_secret, "http://localhost/callback",
                      f"{base}/.well-known/openid_configuration")
    client = QuickBooks(auth_client=auth, refresh_token=state.issue_token(FR).refresh_token, company_id=FR,
                        minorversion=75)
    client.api_url_v3 = f"{base}/v3"
    return client


@pytest.mark.parametrize("cls", list(DELETABLE), ids=lambda cls: cls.__name__)
def test_round_trip_and_delete(qb: Any, served: tuple[Sandbox, str], cls: Any) -> None:
    build, field, expected = DELETABLE[cls]
    saved = cls.from_json(build(str(next(_numbers)))).save(qb=qb)
    assert saved.Id and saved.SyncToken == "0" and getattr(saved, field) == expected
    read = cls.get(saved.Id, qb=qb)
    assert getattr(read, field) == expected
    assert saved.Id in [row.Id for row in cls.all(max_results=1000, qb=qb)]
    assert cls.count(qb=qb) >= 1
    updated = read.save(qb=qb)  # a full update with everything the library read back
    assert updated.SyncToken == "1" and getattr(updated, field) == expected
    cls.get(saved.Id, qb=qb).delete(qb=qb)
    with pytest.raises(QuickbooksException) as raised:
        cls.get(saved.Id, qb=qb)
    assert raised.value.error_code == 610
    state, _ = served
    assert state.realm(FR).get(cls.qbo_object_name, saved.Id) is None


def test_employee_round_trip_and_deactivation(qb: Any) -> None:
    saved = Employee.from_json(pay.employee(f"Noé{next(_numbers)}")).save(qb=qb)
    read = Employee.get(saved.Id, qb=qb)
    assert read.DisplayName == saved.DisplayName and read.Active is True
    assert [e.Id for e in Employee.filter(DisplayName=saved.DisplayName, qb=qb)] == [saved.Id]
    read.Active = False
    assert read.save(qb=qb).Active is False
    assert saved.Id not in [e.Id for e in Employee.all(qb=qb)]


def test_tax_agency_create_and_query(qb: Any) -> None:
    saved = TaxAgency.from_json(pay.tax_agency(f"Agence PQ {next(_numbers)}")).save(qb=qb)
    assert TaxAgency.get(saved.Id, qb=qb).DisplayName == saved.DisplayName
    assert saved.Id in [agency.Id for agency in TaxAgency.all(qb=qb)]


def test_budget_read_only(qb: Any) -> None:
    [budget] = Budget.all(qb=qb)
    assert budget.Name == "Budget 2025" and len(budget.BudgetDetail) == 24
    assert Budget.get(budget.Id, qb=qb).StartDate == "2025-01-01"
