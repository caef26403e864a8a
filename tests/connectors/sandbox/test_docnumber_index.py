"""The DocNumber check reads an index of the numbers in use, not every document: the index follows renumbered,
deleted and added rows, including rows that reached the company without a write (a restored company)."""

from __future__ import annotations

import copy

from connectors.sandbox.sandbox import Sandbox
from connectors.sandbox.testing import InProcessClient
from tests.connectors.sandbox.helpers import FR, fault_code, fr_invoice


def _update(client: InProcessClient, invoice: dict, **fields: object) -> dict:
    answer = client.create("Invoice", {"Id": invoice["Id"], "SyncToken": invoice["SyncToken"], "sparse": True,
                                       **fields})
    assert answer.status_code == 200, answer.text
    return answer.json()["Invoice"]  # type: ignore[no-any-return]


def test_a_renumbered_invoice_frees_its_old_number_and_holds_the_new_one(client: InProcessClient) -> None:
    invoice = client.create("Invoice", fr_invoice(doc="F1001")).json()["Invoice"]
    _update(client, invoice, DocNumber="F2002")
    assert fault_code(client.create("Invoice", fr_invoice(doc="f2002"))) == "6140"
    assert client.create("Invoice", fr_invoice(doc="F1001")).status_code == 200


def test_a_delete_then_a_create_keeps_the_index_right(client: InProcessClient) -> None:
    first = client.create("Invoice", fr_invoice(doc="F1")).json()["Invoice"]
    client.create("Invoice", fr_invoice(doc="F2"))
    client.post(f"{client.company()}/invoice", params={"operation": "delete"},
                json={"Id": first["Id"], "SyncToken": first["SyncToken"]})
    third = client.create("Invoice", fr_invoice(doc="F3")).json()["Invoice"]  # as many rows as before the delete
    duplicate = client.create("Invoice", fr_invoice(doc="F3"))
    assert fault_code(duplicate) == "6140" and f"TxnId={third['Id']}" in duplicate.json()["Fault"]["Error"][0]["Detail"]
    assert fault_code(client.create("CreditMemo", fr_invoice(doc="F2"))) == "6140"
    assert client.create("Invoice", fr_invoice(doc="F1")).status_code == 200


def test_a_row_added_without_a_write_still_holds_its_number(client: InProcessClient, sandbox: Sandbox) -> None:
    invoice = client.create("Invoice", fr_invoice(doc="F10")).json()["Invoice"]
    realm = sandbox.store.realm(FR)
    assert realm is not None
    restored = {**copy.deepcopy(realm.get("Invoice", invoice["Id"])), "Id": "900001", "DocNumber": "R-7"}
    realm.table("Invoice")["900001"] = restored
    assert fault_code(client.create("Invoice", fr_invoice(doc="r-7"))) == "6140"


def test_many_numbers_each_checked(client: InProcessClient) -> None:
    for n in range(40):
        assert client.create("Invoice", fr_invoice(doc=f"M{n}")).status_code == 200
    assert all(fault_code(client.create("Invoice", fr_invoice(doc=f"m{n}"))) == "6140" for n in (0, 17, 39))
