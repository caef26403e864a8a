"""Sales tax / VAT as QBO computes it.

Non-US companies (FR here) use the global model: every taxable line names a real TaxCode, whose
sales or purchase rate list gives the rates; tax is summed per rate and rounded per rate. US
companies use TAX/NON on lines and the header ``TxnTaxDetail.TxnTaxCodeRef`` for the rate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from connectors.sandbox.errors import QboError
from connectors.sandbox.jsonio import money, to_decimal
from connectors.sandbox.store import RealmState

__all__ = ["TaxableLine", "compute_tax", "line_rate_total"]

US_PSEUDO_CODES = frozenset({"TAX", "NON"})


@dataclass(frozen=True)
class TaxableLine:
    """A line's net amount and the tax code it carries (None when it has none)."""

    amount: Decimal
    tax_code: str | None
    element: str


def _rates(realm: RealmState, code_id: str, purchase: bool) -> list[tuple[str, Decimal]]:
    code = realm.get("TaxCode", code_id)
    if code is None:
        raise QboError("2500", "Invalid Reference Id : TaxCodeRef", "TaxCodeRef")
    block = code.get("PurchaseTaxRateList" if purchase else "SalesTaxRateList") or {}
    result = []
    for detail in block.get("TaxRateDetail") or ():
        rate_id = str(detail["TaxRateRef"]["value"])
        rate = realm.get("TaxRate", rate_id)
        if rate is not None:
            result.append((rate_id, to_decimal(rate.get("RateValue", 0))))
    return result


def line_rate_total(realm: RealmState, code_id: str, purchase: bool) -> Decimal:
    """Sum of a code's rates, used to split tax-inclusive amounts."""
    if realm.country == "US":
        return Decimal(0)
    return sum((rate for _, rate in _rates(realm, code_id, purchase)), Decimal(0))


def _detail(nets: Mapping[str, Decimal], percents: Mapping[str, Decimal], header: dict[str, Any] | None
            ) -> dict[str, Any]:
    lines = []
    total = Decimal(0)
    for rate_id, net in nets.items():
        amount = money(net * percents[rate_id] / 100)
        total += amount
        lines.append({"Amount": amount, "DetailType": "TaxLineDetail", "TaxLineDetail": {
            "TaxRateRef": {"value": rate_id}, "PercentBased": True, "TaxPercent": percents[rate_id],
            "NetAmountTaxable": money(net)}})
    detail: dict[str, Any] = dict(header or {})
    detail.update({"TotalTax": money(total), "TaxLine": lines})
    return detail


def compute_tax(realm: RealmState, lines: Sequence[TaxableLine], *, purchase: bool,
                header: Mapping[str, Any] | None, calculation: str | None) -> dict[str, Any]:
    """The ``TxnTaxDetail`` QBO would return for these lines."""
    if realm.country == "US":
        return _us_tax(realm, lines, purchase=purchase, header=header)
    nets: dict[str, Decimal] = {}
    percents: dict[str, Decimal] = {}
    for line in lines:
        if line.tax_code is None:
            raise QboError("6000", "Business Validation Error: Make sure all your transactions have a VAT rate "
                                   "before you save.", f"{line.element}.TaxCodeRef")
        if calculation == "NotApplicable":
            continue
        for rate_id, percent in _rates(realm, line.tax_code, purchase):
            nets[rate_id] = nets.get(rate_id, Decimal(0)) + line.amount
            percents[rate_id] = percent
    return _detail(nets, percents, None)


def _us_tax(realm: RealmState, lines: Sequence[TaxableLine], *, purchase: bool,
            header: Mapping[str, Any] | None) -> dict[str, Any]:
    for line in lines:
        if line.tax_code is not None and line.tax_code not in US_PSEUDO_CODES and not purchase:
            raise QboError("2500", f"Invalid Reference Id : {line.element}.TaxCodeRef",
                           f"{line.element}.TaxCodeRef")
    code_ref = (header or {}).get("TxnTaxCodeRef")
    kept = {"TxnTaxCodeRef": code_ref} if code_ref else None
    if purchase or not code_ref:
        return _detail({}, {}, kept)
    taxable = sum((line.amount for line in lines if line.tax_code == "TAX"), Decimal(0))
    nets: dict[str, Decimal] = {}
    percents: dict[str, Decimal] = {}
    if taxable:
        for rate_id, percent in _rates(realm, str(code_ref.get("value")), purchase=False):
            nets[rate_id] = taxable
            percents[rate_id] = percent
    return _detail(nets, percents, kept)
