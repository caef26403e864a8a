"""Prerequisite checks: what the QBO company must hold before a pack can sync into it.

A pack declares its checks as data (`checks:` in the pack); this module runs them against a target
through a registry of check kinds, so a new kind is one registered function and no pack changes.
Results are values, never exceptions: a failing read of the target (a QBO fault) or an expression
that cannot be evaluated becomes a failed check that says why, so the user sees what to fix instead
of a traceback. Checks run before every sync (``blocking_failures``) and on demand (``passerelle check``).

Besides the pack's own checks, every setting declaring ``choices_from`` is checked against the records QBO
offers now (``choice_results``): a value picked once may name an account deleted since, and a sync would
then book everything against a record the company no longer has.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from engine.compile import CompiledCheck, CompiledPack
from engine.context import EvalContext, NoLedger, ReferenceData
from engine.expressions import EVAL_ERRORS
from engine.model import Setting
from engine.pipeline import Loaded
from engine.runtime.choices import Choice, check_choice, field_at, read_choices, same_value
from engine.runtime.ports import TargetWrite, WriteOutcome

__all__ = [
    "CHECK_KINDS", "CHOICE_PREFIX", "CheckResult", "CheckTarget", "Fix", "Verdict", "apply_fix", "blocking_failures",
    "check_kind", "choice_results", "fix_check", "not_applicable", "prepare_fix", "run_check", "run_checks",
]

CHOICE_PREFIX = "setting:"  # the name of a setting's choice check: ``setting:payment_account``


class CheckTarget(Protocol):
    """What checks read from and write to (QBO): a subset of the sync target and writer."""

    def reference_data(self) -> ReferenceData: ...

    def find(self, entity: str, criteria: Mapping[str, Any]) -> Mapping[str, Any] | None: ...

    def preferences(self) -> Mapping[str, Any]: ...

    def write(self, write: TargetWrite) -> WriteOutcome: ...


class _HasPackAndTarget(Protocol):
    """A run session, as the sync commands hold one (kept structural so the runtime never imports the CLI)."""

    @property
    def loaded(self) -> Loaded: ...

    @property
    def target(self) -> Any: ...


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: ``message`` and ``hint`` say what is wrong and how to fix it (failures only)."""

    name: str
    ok: bool
    blocking: bool
    message: str = ""
    hint: str | None = None
    fixable: bool = False
    description: str = ""

    @property
    def blocks(self) -> bool:
        """Whether this result stops a sync."""
        return self.blocking and not self.ok


@dataclass(frozen=True)
class Verdict:
    """What a check kind found: ``value`` feeds the message templates; ``message``/``hint`` replace the
    pack's words when the check could not be carried out (a fault, an incomplete check)."""

    ok: bool
    value: Any = None
    message: str | None = None
    hint: str | None = None


@dataclass(frozen=True)
class Fix:
    """A record to create so that a check passes, evaluated and ready to show the user before writing."""

    check: str
    entity: str
    payload: Mapping[str, Any]
    error: str | None = None

    @property
    def label(self) -> str:
        """``Item "Discount"``: what the user is asked to confirm."""
        name = self.payload.get("Name") or self.payload.get("DisplayName")
        return f'{self.entity} "{name}"' if name else self.entity


CheckKind = Callable[[CompiledCheck, CheckTarget, Mapping[str, Any]], Verdict]
CHECK_KINDS: dict[str, CheckKind] = {}


def check_kind(name: str) -> Callable[[CheckKind], CheckKind]:
    """Register a check kind under the name packs use in `kind:`."""

    def register(fn: CheckKind) -> CheckKind:
        CHECK_KINDS[name] = fn
        return fn

    return register


def _fault_verdict(exc: Exception) -> Verdict | None:
    """A target's typed error (the QBO connector's faults carry a ``fault`` with user-facing words), or None."""
    fault = getattr(exc, "fault", None)
    if fault is None:
        return None
    message = getattr(fault, "message", None) or str(exc)
    hint = getattr(fault, "hint", None) or None
    return Verdict(False, message=f"QuickBooks answered with an error: {message}", hint=hint)


def _where(check: CompiledCheck, scope: Mapping[str, Any]) -> dict[str, Any]:
    return {name: expr(scope) for name, expr in check.where}


@check_kind("exists")
def _exists(check: CompiledCheck, target: CheckTarget, scope: Mapping[str, Any]) -> Verdict:
    """An active record of ``entity`` whose fields equal the evaluated ``where``: among the target's reference
    data when it can list the entity (read once per run; a fix's record joins it at once), else asked live, as
    is a field no listed record carries (so a misspelt field is QBO's fault, never "missing, create it")."""
    entity = check.check.entity
    if not entity or not check.where:
        return Verdict(False, message=f"check {check.check.name!r} of kind exists needs `entity` and `where`")
    criteria = _where(check, scope)
    empty = [name for name, value in criteria.items() if value is None or value == ""]
    if empty:  # nothing to look for: the setting naming the record is empty
        return Verdict(False, message=f"no {entity} to look for: {', '.join(empty)} is empty")
    records = getattr(target.reference_data(), "records", None)
    if callable(records):  # any field can be compared (QBO filters on a few only, e.g. not an account's AcctNum)
        rows = records(entity)
        found = next((r for r in rows if r.get("Active", True) is not False
                      and all(same_value(field_at(r, name), wanted) for name, wanted in criteria.items())), None)
        known = all(any(field_at(r, name) is not None for r in rows) for name in criteria)
        if found is not None or known:
            return Verdict(found is not None, value=found)
    # a field no listed record carries: QBO itself says whether it is a field (a misspelt one is a fault)
    found = target.find(entity, criteria)
    return Verdict(found is not None, value=found)


@check_kind("preference")
def _preference(check: CompiledCheck, target: CheckTarget, scope: Mapping[str, Any]) -> Verdict:
    """The company preference at the dotted path satisfies ``expect`` (a missing preference reads as null)."""
    path = check.check.preference
    if not path or check.expect is None:
        return Verdict(False, message=f"check {check.check.name!r} of kind preference needs `preference` and `expect`")
    value: Any = target.preferences()
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return Verdict(bool(check.expect({**scope, "value": value})), value=value)


def _has_rates(code: Mapping[str, Any]) -> bool:
    lists = (code.get("SalesTaxRateList"), code.get("PurchaseTaxRateList"))
    return any(isinstance(rates, Mapping) and rates.get("TaxRateDetail") for rates in lists)


@check_kind("active_tax_codes")
def _active_tax_codes(check: CompiledCheck, target: CheckTarget, scope: Mapping[str, Any]) -> Verdict:
    """The company's tax (VAT) setup exists: at least one active tax code with rates.

    Codes without rates (the TAX/NON pseudo-codes every US company has) do not count: they exist before
    any tax is set up.
    """
    refs = target.reference_data()
    records = getattr(refs, "records", None)
    if callable(records):
        codes = [c for c in records("TaxCode") if c.get("Active", True) is not False and _has_rates(c)]
        return Verdict(bool(codes), value=len(codes))
    found = target.find("TaxCode", {"Active": True})  # reference data that cannot list: ask the target
    return Verdict(found is not None and _has_rates(found), value=1 if found else 0)


def _scope(pack: CompiledPack, value: Any = None) -> dict[str, Any]:
    return {"settings": pack.settings, "value": value}


def _render(check: CompiledCheck, scope: Mapping[str, Any]) -> tuple[str, str | None]:
    try:
        message = check.message(scope)
    except EVAL_ERRORS:
        message = check.message.src.text
    try:
        hint = check.hint(scope) if check.hint is not None else None
    except EVAL_ERRORS:
        hint = check.hint.src.text if check.hint is not None else None
    return message, hint


def _applies(check: CompiledCheck, scope: Mapping[str, Any]) -> bool | str:
    """True when the check runs, False when `when` is false, or the evaluation error."""
    if check.when is None:
        return True
    try:
        return bool(check.when(scope))
    except EVAL_ERRORS as exc:
        return f"cannot evaluate `when: {check.when.src.text}`: {exc}"


def run_check(pack: CompiledPack, target: CheckTarget, name: str) -> CheckResult | None:
    """Run one check; None when its `when` is false (the check does not apply to these settings)."""
    check = pack.checks[name]
    spec = check.check
    scope = _scope(pack)
    description = spec.description
    applies = _applies(check, scope)
    if applies is False:
        return None
    if isinstance(applies, str):
        return CheckResult(name, False, spec.blocking, applies, None, False, description)
    kind = CHECK_KINDS.get(spec.kind)
    if kind is None:
        return CheckResult(name, False, spec.blocking, f"unknown check kind {spec.kind!r}",
                           f"known kinds: {', '.join(sorted(CHECK_KINDS))}", False, description)
    try:
        verdict = kind(check, target, scope)
    except EVAL_ERRORS as exc:
        verdict = Verdict(False, message=f"cannot evaluate check {name!r}: {exc}")
    except Exception as exc:  # only the target's typed faults are expected here; anything else is a bug
        fault = _fault_verdict(exc)
        if fault is None:
            raise
        verdict = fault
    if verdict.ok:
        return CheckResult(name, True, spec.blocking, description=description)
    message, hint = _render(check, _scope(pack, verdict.value))
    if verdict.message is not None:
        message, hint = verdict.message, verdict.hint or hint
    fixable = spec.fix_create is not None and verdict.message is None
    return CheckResult(name, False, spec.blocking, message, hint, fixable, description)


def run_checks(pack: CompiledPack, target: CheckTarget) -> list[CheckResult]:
    """Every check that applies, in the pack's order, then the choice of each ``choices_from`` setting."""
    checks = [result for name in pack.checks if (result := run_check(pack, target, name)) is not None]
    return checks + choice_results(pack, target)


def not_applicable(pack: CompiledPack, results: list[CheckResult]) -> int:
    """How many of the pack's own checks did not run (their `when` was false)."""
    return len(pack.checks) - sum(1 for r in results if r.name in pack.checks)


def _choice_result(pack: CompiledPack, name: str, setting: Setting, target: CheckTarget) -> CheckResult | None:
    assert setting.choices_from is not None
    value = pack.settings.get(name)
    values = [v for v in (value if isinstance(value, (list, tuple)) else [value]) if v not in (None, "")]
    if not values:  # an empty setting is allowed (e.g. an optional account)
        return None
    entity = str(setting.choices_from["entity"])
    check_name = CHOICE_PREFIX + name
    description = f"{name} is one of the {entity} records QuickBooks offers"
    try:
        found: list[Choice] = read_choices(setting, target) or []
    except TypeError:  # reference data that cannot list records (no QBO connection): nothing to compare with
        return None
    except Exception as exc:
        fault = _fault_verdict(exc)
        if fault is None:
            raise
        return CheckResult(check_name, False, True, f"cannot read the choices of {name}: {fault.message}", fault.hint,
                           False, description)
    effective = pack.resolved.settings.get(name)
    where = f" (set at {effective.loc})" if effective is not None and effective.loc.file else ""
    hint = (f"set {name}{where} to one of them (`passerelle config choices PROFILE {name}` lists them), or create "
            f"the record in QuickBooks")
    for item in values:
        if not found:
            return CheckResult(check_name, False, True, f"{item!r} is not one of the {entity} records QuickBooks "
                               f"offers for {name}: QuickBooks offers none", hint, False, description)
        problem = check_choice(setting, item, found)
        if problem is not None:
            return CheckResult(check_name, False, True, problem, hint, False, description)
    return CheckResult(check_name, True, True, description=description)


def choice_results(pack: CompiledPack, target: CheckTarget) -> list[CheckResult]:
    """For each setting declaring ``choices_from`` (and holding a value): whether the value is among the records
    read live from QBO. Blocking: a sync must not book against a record the company does not offer."""
    out = []
    for name, setting in pack.resolved.pack.settings.items():
        if setting.choices_from is not None and (result := _choice_result(pack, name, setting, target)) is not None:
            out.append(result)
    return out


def prepare_fix(pack: CompiledPack, target: CheckTarget, name: str) -> Fix:
    """Evaluate the fix's fields against the company's reference data (refs resolved, nothing written)."""
    check = pack.checks[name]
    entity = check.check.fix_create
    if entity is None:
        return Fix(name, "", {}, error=f"check {name!r} offers no fix")
    if check.fix_fields is None:
        return Fix(name, entity, {})
    ctx = EvalContext(target.reference_data(), NoLedger(placeholders=False))
    try:
        payload = check.fix_fields.run({"settings": pack.settings, "value": None, "__ctx": ctx})
    except EVAL_ERRORS as exc:
        return Fix(name, entity, {}, error=f"cannot prepare the fix of {name!r}: {exc}")
    except Exception as exc:
        fault = _fault_verdict(exc)
        if fault is None:
            raise
        return Fix(name, entity, {}, error=fault.message)
    if ctx.pending:
        missing = ", ".join(f"{p.entity} {p.by}={p.value!r}" for p in ctx.pending.values())
        return Fix(name, entity, {}, error=f"the fix of {name!r} needs records that do not exist: {missing}")
    return Fix(name, entity, dict(payload))


def apply_fix(pack: CompiledPack, target: CheckTarget, fix: Fix) -> CheckResult:
    """Create the fix's record, then run the check again: the result says whether the fix worked."""
    spec = pack.checks[fix.check].check
    description = spec.description
    if fix.error is not None:
        return CheckResult(fix.check, False, spec.blocking, fix.error, None, False, description)
    write = TargetWrite(entity=fix.entity, operation="create", payload=fix.payload, request_id=uuid.uuid4().hex,
                        flow=f"check:{fix.check}", source_key=fix.check)
    try:
        outcome = target.write(write)
    except Exception as exc:
        fault = _fault_verdict(exc)
        if fault is None:
            raise
        return CheckResult(fix.check, False, spec.blocking, f"could not create {fix.label}: {fault.message}",
                           fault.hint, False, description)
    if not outcome.ok:
        return CheckResult(fix.check, False, spec.blocking, f"could not create {fix.label}: {outcome.message}",
                           outcome.hint, False, description)
    remember = getattr(target, "remember", None)
    if callable(remember) and outcome.record is not None:
        remember(fix.entity, outcome.record)  # later lookups of this run see the new record
    after = run_check(pack, target, fix.check)
    return after or CheckResult(fix.check, True, spec.blocking, description=description)


def fix_check(pack: CompiledPack, target: CheckTarget, name: str) -> CheckResult | None:
    """Run a check and, only when it fails and offers a fix, apply the fix (callers ask the user first).

    Checking first means calling it twice never creates a second record. None when the check does not apply.
    """
    current = run_check(pack, target, name)
    if current is None or current.ok or not current.fixable:
        return current
    return apply_fix(pack, target, prepare_fix(pack, target, name))


def blocking_failures(session: _HasPackAndTarget) -> list[CheckResult]:
    """The failed blocking checks of a session's pack; a sync stops when this is not empty."""
    return [result for result in run_checks(session.loaded.compiled, session.target) if result.blocks]
