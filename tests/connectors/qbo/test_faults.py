"""The fault catalogue: every code classed, JSON and XML bodies parsed, fallbacks by range and status."""

from __future__ import annotations

import json

import pytest

from connectors.qbo.faults import (
    CATALOGUE,
    KINDS,
    FaultClass,
    fault_from_body,
    fault_from_item,
    fault_from_response_parts,
    spec_for,
)

THROTTLE_XML = b"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time="2017-07-30T22:45:22.933-07:00">
  <Fault type="SERVICE"><Error code="3001">
    <Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message>
    <Detail>The request limit was reached.  Try again later</Detail></Error></Fault></IntuitResponse>"""


@pytest.mark.parametrize(("code", "kind", "fault_class"), [
    ("3200", "authentication", FaultClass.CONFIG), ("3100", "authorization", FaultClass.CONFIG),
    ("3001", "throttled", FaultClass.TRANSIENT), ("5010", "stale_object", FaultClass.CONFLICT),
    ("6140", "duplicate_number", FaultClass.DATA), ("6240", "duplicate_name", FaultClass.DATA),
    ("2020", "validation", FaultClass.DATA), ("610", "not_found", FaultClass.DATA),
    ("6210", "closed_period", FaultClass.DATA), ("2500", "invalid_reference", FaultClass.DATA),
    ("10000", "server_error", FaultClass.TRANSIENT), ("500", "unsupported_operation", FaultClass.CONFIG),
    ("6190", "company_status", FaultClass.CONFIG), ("4000", "query_error", FaultClass.CONFIG),
])
def test_codes_map_to_kinds_and_classes(code: str, kind: str, fault_class: FaultClass) -> None:
    spec = spec_for(code)
    assert spec.kind == kind and spec.fault_class is fault_class


def test_every_kind_has_words_a_hint_and_a_resync_answer() -> None:
    for spec in KINDS.values():
        assert spec.message and spec.hint and isinstance(spec.resync_may_fix, bool)
    assert set(CATALOGUE.values()) <= set(KINDS.values())
    assert not KINDS["reconnect"].resync_may_fix and KINDS["throttled"].resync_may_fix


def test_unknown_codes_fall_back_on_ranges_then_status() -> None:
    assert spec_for("2999").kind == "validation"
    assert spec_for("15000").kind == "server_error"
    assert spec_for("", 503).kind == "server_error"
    assert spec_for("", 401).kind == "authentication"
    assert spec_for("7777").kind == "unknown"


def test_json_fault_body_with_detail_and_element() -> None:
    body = {"Fault": {"Error": [{"Message": "Invalid Reference Id", "Detail": "Invalid Reference Id : Line.ItemRef",
                                 "code": "2500", "element": "Line.SalesItemLineDetail.ItemRef"}],
                      "type": "ValidationFault"}, "time": "2025-01-01T00:00:00-08:00"}
    fault = fault_from_body(json.dumps(body).encode(), 400, "tid-1")
    assert fault is not None and fault.kind == "invalid_reference" and fault.element.endswith("ItemRef")
    assert fault.intuit_tid == "tid-1" and "Line.ItemRef" in fault.message


def test_a_429_with_an_xml_body() -> None:
    fault = fault_from_response_parts(THROTTLE_XML, 429)
    assert fault is not None and fault.code == "3001" and fault.kind == "throttled" and fault.transient


def test_a_200_that_carries_a_fault_is_a_fault() -> None:
    body = {"Fault": {"Error": [{"code": "10000", "Message": "An application error has occurred",
                                 "Detail": "System Failure Error: java.lang.UnsupportedOperationException"}],
                      "type": "SystemFault"}}
    fault = fault_from_response_parts(json.dumps(body).encode(), 200)
    assert fault is not None and fault.kind == "server_error"


def test_gateway_message_without_code_attribute() -> None:
    fault = fault_from_item({"Error": [{"Message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                                        "Detail": "Token expired"}], "type": "AUTHENTICATION"}, 401)
    assert fault.code == "3200" and fault.kind == "authentication"


def test_non_json_error_body_is_classed_by_status() -> None:
    fault = fault_from_response_parts(b"<html>Bad gateway</html>", 502)
    assert fault is not None and fault.kind == "server_error"
    assert fault_from_response_parts(b'{"Invoice": {}}', 200) is None


def test_fault_as_dict_is_json_ready() -> None:
    fault = fault_from_item({"Error": [{"code": "6140", "Message": "Duplicate Document Number Error"}]}, 400)
    data = fault.about("Invoice", "create").as_dict()
    assert json.loads(json.dumps(data))["class"] == "data" and data["entity"] == "Invoice"
    assert "data fault duplicate_number [6140] (create Invoice)" in str(fault.about("Invoice", "create"))
