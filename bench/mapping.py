"""Benchmark: the compiled FreshBooks invoice mapping against the same mapping written by hand.

Both sides map generated FreshBooks invoices (10 lines each) with the demo profile of the real
``rules/freshbooks`` pack: the filter on statuses, the customer name, the line totals and the
rounding/discount lines, the ``sales_taxes`` table, the DocNumber/PrivateNote templates, and the
Customer/Item/TaxCode references resolved against in-memory reference data
(``StaticReferenceData``). The hand-written side is what an engineer would write in plain Python
for the same output: the same payload dicts, Decimal money, the same lookups and the same key,
date, skip reason and match values. Equality is checked on a sample before timing.

    .venv/bin/python -m bench.mapping [--records N] [--sample N] [--profile]

Prints ``key=value`` lines: records per second of both sides and the ratio compiled/hand-written.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from engine.compile import CompiledFlow
from engine.context import StaticReferenceData
from engine.evaluate import evaluate
from engine.pipeline import run_pipeline

ROOT = Path(__file__).resolve().parent.parent
PROFILE = ROOT / "rules" / "freshbooks" / "customers" / "demo.yaml"
LINES_PER_INVOICE = 10
CHUNK = 2000  # records timed per turn
ITEMS = [f"Product {i:03d}" for i in range(60)]
FIRST = ["Claire", "Jean", "Amélie", "Paul", "Sophie", "Marc", "Lucie", "Hugo", "Emma", "Louis"]
LAST = ["Moreau", "Dupont", "Martin", "Bernard", "Petit", "Durand", "Leroy", "Roux", "Fournier", "Girard"]
TAXES = ["VAT 20", "VAT 10", "VAT 5.5", None]
RATES = {"VAT 20": "20", "VAT 10": "10", "VAT 5.5": "5.5", None: None}

Result = tuple[str, str | None, str | None, Any, tuple[tuple[str, Any], ...]]  # action, key, date, payload/reason, match


TAX_NAMES = ["TVA 0 % (exonéré)", "TVA 20 %", "TVA 10 %", "TVA 5,5 %"]


def generate(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """FreshBooks-shaped invoices: 10 lines, varied statuses, discounts, taxes, due dates and customers."""
    return list(iter_records(count, seed))


def iter_records(count: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    """The same invoices as :func:`generate`, one at a time (the plan benchmark must not hold 100k in memory)."""
    rng = random.Random(seed)
    for n in range(count):
        lines = []
        for i in range(LINES_PER_INVOICE):
            qty = rng.choice(["1", "2", "3", "0.5", "1.25"])
            unit = f"{rng.randint(1, 50000) / 100:.2f}"
            amount = (Decimal(qty) * Decimal(unit)).quantize(Decimal("0.01"))
            tax = rng.choice(TAXES)
            lines.append({
                "lineid": i + 1, "name": rng.choice(ITEMS),
                "description": rng.choice(["", "Work done", None, f"Line {i}"]),
                "qty": qty, "unit_cost": {"amount": unit, "code": "EUR"}, "amount": {"amount": str(amount)},
                "taxName1": tax, "taxAmount1": RATES[tax],
            })
        discount = rng.choice(["0", "0", "0", "-10.00", None])
        # FreshBooks' total: VAT rounded line by line (QBO rounds per rate, hence rounding lines)
        total = sum((Decimal(ln["amount"]["amount"]) * (1 + Decimal(ln["taxAmount1"] or 0) / 100)).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP) for ln in lines) + Decimal(discount or 0)
        created = dt.date(2024, 1, 1) + dt.timedelta(days=rng.randint(0, 360))
        yield {
            "invoiceid": 100000 + n, "invoice_number": str(5000 + n),
            "v3_status": rng.choices(["paid", "sent", "viewed", "draft"], [40, 30, 25, 5])[0],
            "create_date": created.isoformat() + rng.choice(["", "T10:15:00"]),
            "due_date": (created + dt.timedelta(days=30)).isoformat() if rng.random() < 0.7 else None,
            "fname": rng.choice(FIRST), "lname": rng.choice(LAST),
            "organization": rng.choice(["", "Moreau Conseil", "Atelier Roux"]),
            "email": rng.choice(["", "someone@example.com"]),
            "currency_code": rng.choice(["EUR", "EUR", None]),
            "amount": {"amount": str(total), "code": "EUR"},
            "discount_total": {"amount": discount},
            "lines": lines,
        }


def reference_data() -> StaticReferenceData:
    customers = [{"Id": str(i + 1), "DisplayName": f"{f} {last}"}
                 for i, (f, last) in enumerate((f, last) for f in FIRST for last in LAST)]
    items = [{"Id": str(100 + i), "Name": name, "Sku": f"SKU{i}"} for i, name in enumerate(ITEMS)]
    items += [{"Id": "900", "Name": "Discount"}, {"Id": "901", "Name": "Rounding"}]
    tax_codes = [{"Id": str(10 + i), "Name": name} for i, name in enumerate(TAX_NAMES)]
    accounts = [{"Id": "1", "Name": "Prestations de services"}, {"Id": "2", "Name": "Achats de marchandises"},
                {"Id": "3", "Name": "Fonds non déposés"}]
    return StaticReferenceData({"Customer": customers, "Item": items, "TaxCode": tax_codes, "Account": accounts})


# ---------------------------------------------------------------------------------------------------------------
# The hand-written mapping (rules/freshbooks/flows/invoices.yaml, written as plain Python).

CENT = Decimal("0.01")


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _iso(value: str) -> str:
    return dt.date.fromisoformat(value[:10]).isoformat()


def _ref(refs: StaticReferenceData, entity: str, by: str, value: Any, label_field: str = "Name") -> dict[str, str]:
    found = refs.find(entity, by, value)
    if found is None:
        raise LookupError(f"no {entity} with {by} = {value!r}")
    ref = {"value": str(found["Id"])}
    label = found.get(label_field) or found.get("Name")
    if label is not None:
        ref["name"] = str(label)
    return ref


def handwritten_mapper(settings: Mapping[str, Any], sales_taxes: Mapping[str, str],
                       refs: StaticReferenceData) -> Callable[[Mapping[str, Any]], Result]:
    statuses = settings["invoice_statuses"]
    prefix, mode, item_by = settings["invoice_prefix"], settings["customer_mode"], settings["item_match"]
    invoice = settings["document_type"] == "Invoice"
    discount_item, rounding_item = settings["discount_item"], settings["rounding_item"]

    def line_of(line: Mapping[str, Any], discount_line: bool = False) -> dict[str, Any]:
        qty, unit = Decimal(line["qty"]), Decimal(line["unit_cost"]["amount"])
        out: dict[str, Any] = {"DetailType": "SalesItemLineDetail"}
        if discount_line:
            out["Description"] = line.get("description") or "Discount"
        elif line.get("description"):
            out["Description"] = line["description"]
        out["Amount"] = _money(qty * unit)
        out["SalesItemLineDetail"] = {
            "ItemRef": _ref(refs, "Item", "Name", discount_item) if discount_line
            else _ref(refs, "Item", item_by, line["name"]),
            "Qty": qty, "UnitPrice": unit,
            "TaxCodeRef": _ref(refs, "TaxCode", "Name", sales_taxes[line.get("taxName1") or "none"]),
        }
        return out

    def qbo_total(lines: list[Mapping[str, Any]], discount: Decimal) -> Decimal:
        """Lines rounded to the cent, VAT summed then rounded per rate (as QBO computes it)."""
        nets: dict[Decimal, Decimal] = {}
        for ln in lines:
            rate = Decimal(ln.get("taxAmount1") or 0)
            nets[rate] = nets.get(rate, Decimal(0)) + _money(Decimal(ln["qty"]) * Decimal(ln["unit_cost"]["amount"]))
        first_rate = Decimal(lines[0].get("taxAmount1") or 0) if lines else Decimal(0)
        nets[first_rate] = nets.get(first_rate, Decimal(0)) + discount
        taxes = sum((_money(net * rate / 100) for rate, net in nets.items()), Decimal(0))
        return sum(nets.values(), Decimal(0)) + (taxes if settings["tax_calculation"] == "TaxExcluded" else 0)

    def extra_line(description: str, item: str, amount: Decimal, tax: Any) -> dict[str, Any]:
        return {"DetailType": "SalesItemLineDetail", "Description": description, "Amount": amount,
                "SalesItemLineDetail": {"ItemRef": _ref(refs, "Item", "Name", item), "Qty": 1, "UnitPrice": amount,
                                        "TaxCodeRef": _ref(refs, "TaxCode", "Name", sales_taxes[tax or "none"])}}

    def mapper(record: Mapping[str, Any]) -> Result:
        key = str(record["invoiceid"])
        created = record["create_date"]
        date = _iso(created)
        status = record["v3_status"]
        if status not in statuses:
            return "skip", key, date, f"status {status} is not synced", ()
        if mode == "generic":
            customer = settings["generic_customer"]
        elif mode == "organization" and record.get("organization"):
            customer = record["organization"]
        else:
            customer = f"{record.get('fname') or ''} {record.get('lname') or ''}".strip() or record.get("organization")
        lines = record["lines"]
        is_discount = [not ln.get("name") and Decimal(ln["qty"]) * Decimal(ln["unit_cost"]["amount"]) < 0
                       for ln in lines]
        discount_amount = (record.get("discount_total") or {}).get("amount")
        discount = _money(Decimal(discount_amount if discount_amount not in (None, "") else 0))
        source = (record.get("amount") or {}).get("amount")
        inclusive = settings["tax_calculation"] == "TaxInclusive"
        rounding = Decimal(source) - qbo_total(lines, discount) if source is not None and not inclusive else Decimal(0)
        payload: dict[str, Any] = {}
        if not settings["automatic_numbering"]:
            payload["DocNumber"] = f"{prefix}{record['invoice_number']}"
        payload["TxnDate"] = date
        if invoice:
            due = record.get("due_date")
            payload["DueDate"] = _iso(due) if due else (dt.date.fromisoformat(created[:10])
                                                        + dt.timedelta(days=settings["due_days"])).isoformat()
        payload["CustomerRef"] = _ref(refs, "Customer", "DisplayName", customer, "DisplayName")
        if record.get("currency_code"):
            payload["CurrencyRef"] = {"value": record["currency_code"]}
        if settings["tax_calculation"] != "NotApplicable":
            payload["GlobalTaxCalculation"] = settings["tax_calculation"]
        if settings["default_class"]:
            payload["ClassRef"] = _ref(refs, "Class", "Name", settings["default_class"])
        if settings["default_location"]:
            payload["DepartmentRef"] = _ref(refs, "Department", "Name", settings["default_location"])
        if invoice:
            payload["AllowOnlineCreditCardPayment"] = settings["allow_online_card_payment"]
        payload["PrivateNote"] = f"FreshBooks invoice {record['invoice_number']}"
        out = [line_of(line) for line, off in zip(lines, is_discount, strict=True) if not off]
        out += [line_of(line, discount_line=True) for line, off in zip(lines, is_discount, strict=True) if off]
        if discount != 0:
            out.append(extra_line("Discount", discount_item, discount, lines[0].get("taxName1") if lines else None))
        if rounding != 0 and abs(rounding) < 1:
            out.append(extra_line("Rounding", rounding_item, rounding, None))
        payload["Line"] = out
        return "write", key, date, payload, (("DocNumber", payload.get("DocNumber")),)

    return mapper


# ---------------------------------------------------------------------------------------------------------------


def compiled_mapper(flow: CompiledFlow, settings: Mapping[str, Any], refs: StaticReferenceData
                    ) -> Callable[[Mapping[str, Any]], Result]:
    def mapper(record: Mapping[str, Any]) -> Result:
        ev = evaluate(flow, record, settings, refs=refs)
        if ev.action == "write":
            return "write", ev.key, ev.date, ev.payload, ev.match
        if ev.action == "skip":
            return "skip", ev.key, ev.date, ev.reason, ()
        raise RuntimeError(f"{ev.action}: {ev.error or ev.reason}")

    return mapper


def setup() -> tuple[Callable[[Mapping[str, Any]], Result], Callable[[Mapping[str, Any]], Result]]:
    loaded = run_pipeline(PROFILE)
    compiled = loaded.compiled
    flow = compiled.flows["invoices"]
    table = loaded.resolved.tables["sales_taxes"]
    sales_taxes = {key: row.value for key, row in table.rows.items()}
    return (compiled_mapper(flow, compiled.settings, reference_data()),
            handwritten_mapper(compiled.settings, sales_taxes, reference_data()))


def check_equal(records: Iterable[Mapping[str, Any]]) -> int:
    """Map each record both ways; raise AssertionError on the first difference. Returns the count."""
    compiled, handwritten = setup()
    count = 0
    for record in records:
        a, b = compiled(record), handwritten(record)
        if a != b or _types(a) != _types(b):
            raise AssertionError(f"record {record['invoiceid']}: compiled {a!r}\n!= hand-written {b!r}")
        count += 1
    return count


def _types(value: Any) -> Any:
    """The value's shape with leaf types, so Decimal('1') and 1 do not compare equal by accident."""
    if isinstance(value, Mapping):
        return {k: _types(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_types(v) for v in value]
    return type(value).__name__


def _time(mapper: Callable[[Mapping[str, Any]], Result], records: list[dict[str, Any]]) -> float:
    """CPU seconds of this process (not wall time: on a shared machine, time spent descheduled is not ours)."""
    start = time.process_time()
    for record in records:
        mapper(record)
    return time.process_time() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.mapping", description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000, help="records timed (default 100000)")
    parser.add_argument("--sample", type=int, default=500, help="records checked for equal output first")
    parser.add_argument("--profile", action="store_true", help="profile the compiled side with pyinstrument")
    args = parser.parse_args(argv)
    records = generate(args.records)
    check_equal(records[: args.sample])
    compiled, handwritten = setup()
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler()
        profiler.start()
        _time(compiled, records)
        profiler.stop()
        print(profiler.output_text(unicode=True, color=False))
        return 0
    _time(compiled, records[:1000])  # warm up
    _time(handwritten, records[:1000])
    # Alternate the two sides chunk by chunk, so a busy neighbour on the machine slows both alike.
    t_compiled = t_hand = 0.0
    for start in range(0, len(records), CHUNK):
        chunk = records[start:start + CHUNK]
        t_compiled += _time(compiled, chunk)
        t_hand += _time(handwritten, chunk)
    print(f"mapping_records={len(records)}")
    print(f"mapping_lines_per_record={LINES_PER_INVOICE}")
    print(f"mapping_compiled_rps={len(records) / t_compiled:.0f}")
    print(f"mapping_handwritten_rps={len(records) / t_hand:.0f}")
    print(f"mapping_ratio={t_compiled / t_hand:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
