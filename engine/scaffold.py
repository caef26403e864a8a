"""A new rule pack that works at once: ``passerelle init NAME`` writes one from these files.

The pack reads invoices from a JSON file (swap the connection for the product's HTTP API later), maps
each to a QBO invoice (customer created when missing, VAT code per line through a table, a DocNumber
prefix setting) and ships a demo profile and one case. Every file is plain text a person edits next;
``docs/tutorial.md`` walks through them to a first sync on the sandbox.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from engine.errors import Loc, PasserelleError, RuleError

__all__ = ["NAME_PATTERN", "scaffold"]

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")

_PACK = """\
passerelle: 1
kind: pack
pack:
  name: {name}
  version: 0.1.0
  description: Invoices of the product become QuickBooks Online invoices.
connections:
  qbo: {{connector: qbo}}
  product:                      # a file to start with; later the product's API (`connector: http`)
    connector: file
    resources:
      invoices: {{path: data/invoices.json}}
settings:
  invoice_prefix:
    type: string
    default: "INV-"
    description: Put before the product's invoice number to make the QBO invoice number.
  default_item:
    type: string
    default: Conseil
    description: The QBO product or service every line is booked on.
  tax_calculation:
    type: string
    enum: [TaxExcluded, TaxInclusive]
    default: TaxExcluded
    description: Whether the product's line prices include VAT.
tables:
  taxes:
    description: The product's tax name -> the QBO tax code; `none` is for lines without tax.
    on_missing: error
    refers_to: {{entity: TaxCode, by: Name, type: sales}}
    rows:
      none: "TVA 0 % (exonéré)"
      vat20: "TVA 20 %"
      vat10: "TVA 10 %"
flows:
  invoices:
    description: Each product invoice becomes a QBO invoice; its customer is created when QBO has none by that name.
    from: {{connection: product, entity: invoices}}
    to: {{connection: qbo, entity: Invoice}}
    key: str(record.id)
    when: record.status == 'issued'
    skip_reason: "status {{{{ record.status }}}} is not sent"
    fields:
      DocNumber: {{template: "{{{{ settings.invoice_prefix }}}}{{{{ record.number }}}}"}}
      TxnDate: date(record.date)
      GlobalTaxCalculation: settings.tax_calculation
      CustomerRef:
        ref:
          entity: Customer
          by: DisplayName
          value: record.customer
          on_missing: create
          create:
            fields:
              DisplayName: value
      Line:
        each: record.lines
        as: line
        map:
          object:
            DetailType: {{const: SalesItemLineDetail}}
            Description: line.label
            Amount: {{expr: "decimal(line.quantity) * decimal(line.unit_price)", type: money}}
            SalesItemLineDetail:
              object:
                ItemRef: {{ref: {{entity: Item, by: Name, value: settings.default_item}}}}
                Qty: decimal(line.quantity)
                UnitPrice: decimal(line.unit_price)
                TaxCodeRef: {{ref: {{entity: TaxCode, by: Name, value: "lookup('taxes', line.tax or 'none')"}}}}
"""

_INVOICES = """\
[
  {{"id": 1, "number": "1001", "status": "issued", "date": "2025-03-03", "customer": "Atelier Martin",
   "lines": [{{"label": "Réparation", "quantity": "2", "unit_price": "45.00", "tax": "vat20"}},
             {{"label": "Pièces", "quantity": "1", "unit_price": "30.00", "tax": "vat10"}}]}},
  {{"id": 2, "number": "1002", "status": "issued", "date": "2025-03-04", "customer": "Boulangerie Dupont",
   "lines": [{{"label": "Maintenance", "quantity": "1", "unit_price": "120.00", "tax": "vat55"}},
             {{"label": "Déplacement", "quantity": "1", "unit_price": "15.00", "tax": null}}]}},
  {{"id": 3, "number": "1003", "status": "draft", "date": "2025-03-05", "customer": "Atelier Martin",
   "lines": [{{"label": "Devis", "quantity": "1", "unit_price": "80.00", "tax": null}}]}}
]
"""

_PROFILE = """\
passerelle: 1
kind: profile
profile:
  name: demo
  description: A first customer of the {name} pack, for the sandbox's French company.
pack: {name}
settings:
  invoice_prefix: "DEMO-"
tables:
  taxes:
    add:
      vat55: "TVA 5,5 %"
"""

_CASE = """\
description: >-
  The first sync of the demo profile: the two issued invoices become QBO invoices (one customer exists
  in QuickBooks, the other is created), the draft is skipped.
profile: {name}/demo
today: "2025-03-10"
"""

_REFERENCE = """\
{{
  "Customer": [{{"Id": "58", "DisplayName": "Atelier Martin", "Active": true}}],
  "Item": [{{"Id": "60", "Name": "Conseil", "Type": "Service", "Active": true}}],
  "TaxCode": [{{"Id": "31", "Name": "TVA 20 %", "Active": true}},
              {{"Id": "32", "Name": "TVA 10 %", "Active": true}},
              {{"Id": "33", "Name": "TVA 5,5 %", "Active": true}},
              {{"Id": "35", "Name": "TVA 0 % (exonéré)", "Active": true}}]
}}
"""

_README = """\
# {name}

Product invoices become QuickBooks Online invoices. Made by `passerelle init {name}`; see
`docs/tutorial.md` of Passerelle for the walk from here to a first sync on the sandbox.

| file | what it holds |
|---|---|
| `pack.yaml` | the connections, settings, the `taxes` table and the `invoices` flow |
| `data/invoices.json` | sample product invoices (the `product` connection reads this file) |
| `customers/demo.yaml` | a customer profile: its own settings and table rows over the pack |
| `cases/first_sync/` | the demo's first sync, planned offline: `passerelle test {name}` |
"""


def _files(name: str) -> Mapping[str, str]:
    values = {"name": name}
    return {"pack.yaml": _PACK.format(**values), "data/invoices.json": _INVOICES.format(**values),
            "customers/demo.yaml": _PROFILE.format(**values), "cases/first_sync/case.yaml": _CASE.format(**values),
            "cases/first_sync/records/invoices.json": _INVOICES.format(**values),
            "cases/first_sync/reference.json": _REFERENCE.format(**values), "README.md": _README.format(**values)}


def scaffold(name: str, rules: Path) -> Path:
    """Write the new pack ``rules/NAME`` (refused when the name is not a pack name or the folder exists)."""
    if not NAME_PATTERN.match(name):
        raise PasserelleError([RuleError("E100", f"{name!r} is not a pack name: lower-case letters, digits, '_' "
                                         "and '-', starting with a letter", None)])
    folder = rules / name
    if folder.exists():
        raise PasserelleError([RuleError("E100", f"{folder} exists already: init writes a new pack only",
                                         Loc(str(folder)), hint="choose another name, or remove the folder")])
    for relative, text in _files(name).items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder
