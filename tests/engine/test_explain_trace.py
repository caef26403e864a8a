"""`passerelle explain`: which setting and table row produced each value, and runtime template errors told
at the template's own line in the pack's words."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from tests.engine.test_cli import ROOT, run

RECEIPTS = ROOT / "tests" / "cases" / "packs" / "receipts"


def test_explain_names_the_setting_and_the_table_row_behind_each_value(tmp_path: Path) -> None:
    record = tmp_path / "r.json"
    record.write_text('{"invoiceid": 1, "invoice_number": "77", "v3_status": "sent", "create_date": "2024-05-02",'
                      ' "fname": "Ana", "lines": [{"name": "Widget", "qty": "1", "unit_cost": {"amount": "10"}}]}',
                      encoding="utf-8")
    code, out = run("explain", str(ROOT / "rules/freshbooks/customers/demo.yaml"), str(record))
    assert code == 0, out
    lines = out.splitlines()
    doc = next(i for i, line in enumerate(lines) if line.strip().startswith("DocNumber "))
    # The prefix comes from the profile, at the line that sets it.
    setting = lines[doc + 1]
    assert re.search(r"setting\s+\S*rules/freshbooks/customers/demo\.yaml:\d+:\d+\s+settings\.invoice_prefix = \"FB\" "
                     r"\[profile\]", setting), setting
    # A value looked up by `lookup()` inside a rule names the row that answered.
    tax = next(line for line in lines if "SalesItemLineDetail.TaxCodeRef" in line)
    assert re.search(r"sales_taxes\['none'\] row at \S*rules/freshbooks/tables/sales_taxes\.csv:\d+:\d+", tax), tax


def test_a_runtime_template_error_names_the_template_line_in_the_packs_words(tmp_path: Path) -> None:
    pack = tmp_path / "receipts"
    shutil.copytree(RECEIPTS, pack)
    rules = pack / "pack.yaml"
    text = rules.read_text(encoding="utf-8")
    text = text.replace("      PaymentType: {const: Cash}\n",
                        "      PaymentType: {const: Cash}\n"
                        "      PrivateNote:\n"
                        "        template: |\n"
                        "          Expense {{ record.id }}\n"
                        "          {{ record.lines + 1 }}\n", 1)
    rules.write_text(text, encoding="utf-8")
    failing = text.splitlines().index("          {{ record.lines + 1 }}") + 1
    record = tmp_path / "r.json"
    record.write_text('{"id": 1, "lines": [{"amount": "1", "account": "606400"}], "receipts": []}', encoding="utf-8")

    code, out = run("explain", str(rules), str(record))
    assert code == 1, out
    assert f"pack.yaml:{failing}:" in out, out
    assert "template line 2" in out and "cannot add 'number' to 'list'" in out, out
    for internal in ("mappingproxy", "tuple", "TypeError", "Traceback", "Decimal"):
        assert internal not in out, out
