"""A sales form rendered as a small, valid one-page PDF (Helvetica text: number, customer, lines, totals).

Real QBO renders a styled document; clients only need a PDF they can store or attach, so the
sandbox writes the PDF objects by hand rather than pull in a layout library.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["render_pdf"]


def _escape(text: str) -> str:
    text = text.replace("€", "EUR").encode("latin-1", "replace").decode("latin-1")
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _lines(entity: str, row: Mapping[str, Any], company: str) -> list[str]:
    currency = (row.get("CurrencyRef") or {}).get("value", "")
    customer = row.get("CustomerRef") or {}
    lines = [company, "", f"{entity} {row.get('DocNumber') or row.get('Id')}",
             f"Date: {row.get('TxnDate', '')}    Due: {row.get('DueDate', '')}",
             f"Customer: {customer.get('name') or customer.get('value', '')}", ""]
    for line in row.get("Line") or ():
        if line.get("DetailType") == "SalesItemLineDetail":
            detail = line.get("SalesItemLineDetail") or {}
            label = line.get("Description") or (detail.get("ItemRef") or {}).get("name") or "Item"
            lines.append(f"{label}  x{detail.get('Qty', 1)}  {line.get('Amount', 0)} {currency}")
    tax = (row.get("TxnTaxDetail") or {}).get("TotalTax", 0)
    lines += ["", f"Tax: {tax} {currency}", f"Total: {row.get('TotalAmt', 0)} {currency}",
              f"Balance due: {row.get('Balance', 0)} {currency}"]
    return lines


def render_pdf(entity: str, row: Mapping[str, Any], company: str) -> bytes:
    text = ["BT", "/F1 11 Tf", "14 TL", "50 790 Td"]
    text += [f"({_escape(line)}) Tj T*" for line in _lines(entity, row, company)]
    text.append("ET")
    stream = "\n".join(text).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 5 0 R "
        b"/Resources << /Font << /F1 4 0 R >> >> >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)
