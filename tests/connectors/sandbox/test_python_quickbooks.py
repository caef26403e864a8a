"""Third-party client conformance: python-quickbooks, unchanged, with its base URL pointed at the sandbox.

It goes through the sandbox's own OAuth (intuit-oauth reads the discovery document and refreshes a
token on start), then creates, reads, queries, updates, batches, voids, deletes, uploads, downloads a
PDF and reads change data capture.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from intuitlib.client import AuthClient
from quickbooks import QuickBooks
from quickbooks.batch import batch_create
from quickbooks.cdc import change_data_capture
from quickbooks.exceptions import QuickbooksException, ValidationException
from quickbooks.objects.attachable import Attachable, AttachableRef
from quickbooks.objects.base import LinkedTxn, Ref
from quickbooks.objects.customer import Customer
from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.item import Item
from quickbooks.objects.payment import Payment, PaymentLine

from connectors.sandbox import ManualClock, RealmSpec, Sandbox, serve
from connectors.sandbox.testing import test_config
from tests.connectors.sandbox.helpers import FR, US

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Sandbox, str]]:
    clock = ManualClock(datetime(2025, 3, 3, 9, 0, tzinfo=UTC))
    state = Sandbox(test_config(realms=(RealmSpec(FR, "fr"), RealmSpec(US, "us")), clock=clock))
    with serve(state) as base:
        yield state, base
    state.close()


def _client(served: tuple[Sandbox, str], monkeypatch: pytest.MonkeyPatch, realm_id: str = FR) -> Any:
    state, base = served
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    auth = AuthClient(state.config.client_id, state.config.client_secret, "http://localhost/callback",
                      f"{base}/.well-known/openid_configuration")
    refresh = state.issue_token(realm_id).refresh_token
    client = QuickBooks(auth_client=auth, refresh_token=refresh, company_id=realm_id, minorversion=75)
    client.api_url_v3 = f"{base}/v3"
    assert auth.access_token and auth.refresh_token != refresh  # the token endpoint rotated it
    return client


def _fr_line(amount: str, item: str = "60", code: str = "31") -> Any:
    line = SalesItemLine()
    line.Amount = Decimal(amount)
    line.Description = "Prestation"
    line.SalesItemLineDetail = SalesItemLineDetail()
    line.SalesItemLineDetail.ItemRef = Ref()
    line.SalesItemLineDetail.ItemRef.value = item
    line.SalesItemLineDetail.TaxCodeRef = Ref()
    line.SalesItemLineDetail.TaxCodeRef.value = code
    return line


def _customer_ref(customer_id: str) -> Any:
    ref = Ref()
    ref.value = customer_id
    return ref


def test_create_read_query_update(served: tuple[Sandbox, str], monkeypatch: pytest.MonkeyPatch) -> None:
    qb = _client(served, monkeypatch)
    customer = Customer()
    customer.DisplayName = "Librairie du Port"
    customer.CompanyName = "Librairie du Port SARL"
    saved = customer.save(qb=qb)
    assert saved.Id and saved.SyncToken == "0"
    read = Customer.get(saved.Id, qb=qb)
    assert read.DisplayName == "Librairie du Port"
    assert [c.Id for c in Customer.filter(DisplayName="Librairie du Port", qb=qb)] == [saved.Id]
    assert len(Customer.where("CompanyName LIKE '%du Port%'", qb=qb)) == 1
    assert Customer.count(qb=qb) >= 5
    read.Notes = "Client fidèle"
    updated = read.save(qb=qb)
    assert updated.SyncToken == "1" and Customer.get(saved.Id, qb=qb).Notes == "Client fidèle"
    items = Item.all(qb=qb)
    assert {item.Name for item in items} >= {"Conseil", "Formation"}


def test_invoice_payment_void_delete_pdf(served: tuple[Sandbox, str], monkeypatch: pytest.MonkeyPatch) -> None:
    qb = _client(served, monkeypatch)
    invoice = Invoice()
    invoice.CustomerRef = _customer_ref("53")
    invoice.DocNumber = "PQB-1"
    invoice.Line.append(_fr_line("1000"))
    saved = invoice.save(qb=qb)
    assert saved.TotalAmt == 1200 and saved.Balance == 1200

    payment = Payment()
    payment.CustomerRef = _customer_ref("53")
    payment.TotalAmt = 200
    payment.PaymentRefNum = "PE-PQB"
    line = PaymentLine()
    line.Amount = 200
    link = LinkedTxn()
    link.TxnId, link.TxnType = saved.Id, "Invoice"
    line.LinkedTxn.append(link)
    payment.Line.append(line)
    paid = payment.save(qb=qb)
    assert Invoice.get(saved.Id, qb=qb).Balance == 1000

    pdf = Invoice.get(saved.Id, qb=qb).download_pdf(qb=qb)
    assert pdf.startswith(b"%PDF")

    Payment.get(paid.Id, qb=qb).void(qb=qb)
    assert Invoice.get(saved.Id, qb=qb).Balance == 1200
    current = Invoice.get(saved.Id, qb=qb)
    current.void(qb=qb)
    assert Invoice.get(saved.Id, qb=qb).TotalAmt == 0
    Invoice.get(saved.Id, qb=qb).delete(qb=qb)
    with pytest.raises(QuickbooksException) as raised:
        Invoice.get(saved.Id, qb=qb)
    assert raised.value.error_code == 610


def test_faults_surface_as_library_exceptions(served: tuple[Sandbox, str], monkeypatch: pytest.MonkeyPatch) -> None:
    qb = _client(served, monkeypatch)
    invoice = Invoice()
    invoice.CustomerRef = _customer_ref("52")
    invoice.Line.append(_fr_line("10"))  # no DocNumber: required in France with custom numbers
    with pytest.raises(ValidationException) as raised:
        invoice.save(qb=qb)
    assert raised.value.error_code == 2020
    stale = Customer.get("52", qb=qb)
    stale.SyncToken = "99"
    with pytest.raises(QuickbooksException) as conflict:
        stale.save(qb=qb)
    assert conflict.value.error_code == 5010


def test_batch_and_change_data_capture(served: tuple[Sandbox, str], monkeypatch: pytest.MonkeyPatch) -> None:
    state, _ = served
    qb = _client(served, monkeypatch)
    since = state.now()
    customers = []
    for n in range(3):
        customer = Customer()
        customer.DisplayName = f"Batch Client {n}"
        customers.append(customer)
    duplicate = Customer()
    duplicate.DisplayName = "Boulangerie Martin"
    result = batch_create([*customers, duplicate], qb=qb)
    assert len(result.successes) == 3 and len(result.faults) == 1
    assert result.faults[0].Error[0].code == "6240"
    state.clock.advance(5)  # type: ignore[attr-defined]
    cdc = change_data_capture([Customer, Invoice], since.replace(tzinfo=None), qb=qb)
    names = {customer.DisplayName for customer in cdc.Customer}
    assert {"Batch Client 0", "Batch Client 1", "Batch Client 2"} <= names


def test_attachment_upload(served: tuple[Sandbox, str], monkeypatch: pytest.MonkeyPatch) -> None:
    state, _ = served
    qb = _client(served, monkeypatch, realm_id=US)
    attachable = Attachable()
    ref = AttachableRef()
    ref.EntityRef = {"type": "Customer", "value": "52"}
    attachable.AttachableRef.append(ref)
    attachable.FileName = "note.txt"
    attachable.ContentType = "text/plain"
    attachable._FileBytes = b"hello from the library"
    saved = attachable.save(qb=qb)
    assert saved.Size == len(b"hello from the library")
    assert state.realm(US).files[saved.Id] == b"hello from the library"
