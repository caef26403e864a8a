"""Evaluate: a compiled flow and one source record to a target payload, purely.

Given the same record, settings, reference data and ledger, the result is always the same; nothing
is written. Records a payload needs that do not exist yet come back as ``creates``; a record the
pack skips comes back with its reason; a failing expression, or one that exhausts the record's work
budget (``engine.bounds``), comes back as a located error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.bounds import end_record, start_record
from engine.compile import CompiledFlow
from engine.context import (
    EvalContext,
    Ledger,
    NoLedger,
    PendingCreate,
    PlaceholderReferenceData,
    ReferenceData,
    TraceEntry,
)
from engine.errors import Loc, RuleError
from engine.expressions import EVAL_ERRORS, LINE_SOURCES, SOURCES, CompiledExpr, Skip
from engine.failures import plain_message
from engine.functions import EvalFailure
from engine.model import Src

__all__ = ["Evaluation", "evaluate", "evaluate_gone"]


@dataclass(frozen=True)
class Evaluation:
    flow: str
    entity: str
    key: str | None
    action: str  # "write", "skip", "void", "delete" or "error"
    payload: Mapping[str, Any] | None = None
    reason: str | None = None
    error: RuleError | None = None
    date: str | None = None
    creates: tuple[PendingCreate, ...] = ()
    match: tuple[tuple[str, Any], ...] = ()
    trace: tuple[TraceEntry, ...] = ()
    target_id: str | None = None
    attachments: tuple[Mapping[str, Any], ...] = ()


def _error(flow: CompiledFlow, key: str | None, exc: BaseException, where: Any) -> Evaluation:
    message = exc.args[0] if isinstance(exc, EvalFailure) and exc.args else plain_message(exc)
    src = getattr(where, "src", None)
    loc = src.loc if src is not None else flow.flow.loc
    if isinstance(exc, EvalFailure) and isinstance(exc.loc, Loc):
        src, loc = None, exc.loc
    text = f" in {src.text!r}" if src is not None else ""
    error = RuleError("E601", f"flow {flow.name!r}, record {key!r}: {message}{text}", loc,
                      src.path if src is not None else ())
    return Evaluation(flow.name, flow.entity, key, "error", error=error)


def evaluate(flow: CompiledFlow, record: Mapping[str, Any], settings: Mapping[str, Any], *,
             refs: ReferenceData | None = None, ledger: Ledger | None = None, now: str = "",
             state: str | None = None, trace: bool = False, manual: bool = False,
             duplicate_of: str | None = None) -> Evaluation:
    """Map one record through a compiled flow, within one record's work budget."""
    start_record()
    try:
        return _evaluate(flow, record, settings, refs=refs, ledger=ledger, now=now, state=state, trace=trace,
                         manual=manual, duplicate_of=duplicate_of)
    finally:
        end_record()


def _evaluate(flow: CompiledFlow, record: Mapping[str, Any], settings: Mapping[str, Any], *,
              refs: ReferenceData | None, ledger: Ledger | None, now: str, state: str | None, trace: bool,
              manual: bool, duplicate_of: str | None) -> Evaluation:
    ctx = EvalContext(refs or PlaceholderReferenceData(), ledger or NoLedger(), [] if trace else None)
    scope: dict[str, Any] = {"record": record, "settings": settings, "vars": {}, "now": now, "state": state,
                             "manual": manual, "duplicate_of": duplicate_of, "__ctx": ctx}
    if trace:
        scope["__tpath"] = ""
    key: str | None = None
    stage: Any = flow.key
    try:
        raw_key = flow.key.fn(scope)
        key = None if raw_key is None else str(raw_key)
        if key is None:
            raise EvalFailure("the record's key is empty")
        date = None
        if flow.date is not None:
            stage = flow.date
            raw_date = flow.date.fn(scope)
            date = None if raw_date is None else str(raw_date)
        # A void/delete rule wins over the filter: a deleted record is out of the filter's statuses too.
        for action, condition in (("void", flow.void_when), ("delete", flow.delete_when)):
            if condition is not None:
                stage = condition
                if condition.fn(scope):
                    return Evaluation(flow.name, flow.entity, key, action, date=date)
        if flow.when is not None:
            stage = flow.when
            if not flow.when.fn(scope):
                reason = (flow.skip_reason(scope) if flow.skip_reason
                          else f"filtered out by `when: {flow.when.src.text}`")
                return Evaluation(flow.name, flow.entity, key, "skip", reason=reason, date=date)
        if flow.body is not None and not trace:  # vars and fields as one generated function (engine.fused)
            stage = flow.fields
            payload = flow.body(scope)
        else:
            variables = scope["vars"]
            for name, value in flow.vars:
                stage = value
                if value.when is None or value.when.fn(scope):
                    variables[name] = value.run(scope)
            stage = flow.fields
            payload = flow.fields.run(scope)
        match = _match(flow.match, scope, payload)
        stage = flow.target_id
        target_id = flow.target_id(scope) if flow.target_id is not None else None
        stage = flow.children
        attachments = _attachments(flow, scope)
    except Skip as skip:
        return Evaluation(flow.name, flow.entity, key, "skip", reason=skip.reason)
    except EVAL_ERRORS as exc:
        return _error(flow, key, exc, _culprit(stage, exc))
    return Evaluation(flow.name, flow.entity, key, "write", payload=payload, date=date,
                      creates=tuple(ctx.pending.values()), match=match, trace=tuple(ctx.trace or ()),
                      target_id=None if target_id is None else str(target_id), attachments=attachments)


def evaluate_gone(flow: CompiledFlow, tombstone: Mapping[str, Any], key: str, settings: Mapping[str, Any], *,
                  now: str = "", manual: bool = False) -> Evaluation:
    """What the flow's `gone` rule writes for the source record ``key``, gone at the source; ``tombstone`` is
    what the source still says of it (QBO: its Id and status Deleted) and is the scope's ``record``."""
    gone = flow.flow.gone
    assert gone is not None
    if gone.action is not None:
        return Evaluation(flow.name, flow.entity, key, gone.action)
    assert flow.gone is not None
    start_record()
    scope: dict[str, Any] = {"record": tombstone, "settings": settings, "vars": {}, "now": now, "state": None,
                             "manual": manual, "duplicate_of": None,
                             "__ctx": EvalContext(PlaceholderReferenceData(), NoLedger(), None)}
    try:
        payload = flow.gone.run(scope)
    except Skip as skip:
        return Evaluation(flow.name, flow.entity, key, "skip", reason=skip.reason)
    except EVAL_ERRORS as exc:
        return _error(flow, key, exc, _culprit(flow.gone, exc))
    finally:
        end_record()
    return Evaluation(flow.name, flow.entity, key, "write", payload=payload)


def _match(match: tuple[tuple[str, CompiledExpr], ...], scope: dict[str, Any], payload: Any
           ) -> tuple[tuple[str, Any], ...]:
    if not match:
        return ()
    local = dict(scope)
    local["payload"] = payload
    return tuple((field, expr(local)) for field, expr in match)


def _culprit(stage: Any, exc: BaseException) -> Any:
    """What failed: the innermost compiled expression in the traceback, else the current stage."""
    tb = exc.__traceback__
    found = None
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        src = SOURCES.get(filename)
        if src is None and filename in LINE_SOURCES:  # generated code inlining expressions: the one on this line
            src = LINE_SOURCES[filename].get(tb.tb_lineno)
        if src is not None:
            found = src
        tb = tb.tb_next
    return _Found(found) if found is not None else stage


@dataclass(frozen=True)
class _Found:
    src: Src


def _attachments(flow: CompiledFlow, scope: dict[str, Any]) -> tuple[Mapping[str, Any], ...]:
    """The files to attach to the written record: url (or pack-relative path), file name, content type."""
    out: list[Mapping[str, Any]] = []
    for child in flow.children:
        if child.kind != "attachment" or (child.when is not None and not child.when.fn(scope)):
            continue
        items = list(child.each.fn(scope) or ()) if child.each is not None else [None]
        for item in items:
            local = {**scope, child.name: item} if child.each is not None else scope
            url = child.url(local) if child.url is not None else ""
            if not url:
                continue
            name = child.file_name(local) if child.file_name is not None else url.rstrip("/").rsplit("/", 1)[-1]
            out.append({"url": url, "file_name": name, "content_type": child.content_type or _guess(name)})
    return tuple(out)


def _guess(name: str) -> str:
    import mimetypes

    return mimetypes.guess_type(name)[0] or "application/octet-stream"

