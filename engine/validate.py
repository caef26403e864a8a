"""Validate: check a ``Document`` against the format's JSON Schema and report every error at once.

JSON Schema errors are turned into ``RuleError`` values placed at the offending node, with a
message a rule author can act on: unknown keys name the allowed ones with a "did you mean",
enum values likewise, and the shape errors of value objects say which key is missing or extra.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Sequence
from functools import cache
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource

from engine.errors import PathPart, RuleError
from engine.resources import schema
from engine.source import Document

__all__ = ["SCHEMAS", "did_you_mean", "validate_document"]

SCHEMAS = {"pack": "pack.schema.json", "pack-part": "pack.schema.json", "profile": "profile.schema.json"}
_BASE = "https://passerelle.dev/schemas/"


@cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    registry: Registry[Any] = Registry()
    for other in set(SCHEMAS.values()):
        registry = registry.with_resource(_BASE + other, Resource.from_contents(schema(other)))
    return jsonschema.Draft202012Validator(
        schema(name), registry=registry, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def did_you_mean(word: str, choices: Iterable[Any]) -> str | None:
    names = [str(c) for c in choices]
    match = difflib.get_close_matches(str(word), names, n=1, cutoff=0.6)
    return f"did you mean {match[0]!r}?" if match else None


def validate_document(doc: Document) -> list[RuleError]:
    """All schema errors of one file (empty when it is valid)."""
    kind = doc.data.get("kind")
    version = doc.data.get("passerelle")
    if type(version) is not int or version != 1:  # not `true` nor 1.0, which compare equal to 1
        found = doc.data.get("passerelle")
        message = ("missing format version: a rule file starts with `passerelle: 1`" if found is None
                   else f"unsupported format version {found!r}: this Passerelle reads version 1")
        return [RuleError("E206", message, doc.loc(("passerelle",)), ("passerelle",))]
    if not isinstance(kind, str) or kind not in SCHEMAS:
        hint = did_you_mean(str(kind), SCHEMAS) if kind is not None else None
        message = ("missing `kind`: pack, pack-part or profile" if kind is None
                   else f"unknown kind {kind!r}: expected pack, pack-part or profile")
        return [RuleError("E203", message, doc.loc(("kind",)), ("kind",), hint=hint)]
    validator = _validator(SCHEMAS[str(kind)])
    errors: list[RuleError] = []
    for error in validator.iter_errors(doc.data):
        errors.extend(_explain(error, doc))
    return errors


def _path(error: ValidationError) -> tuple[PathPart, ...]:
    return tuple(error.absolute_path)


def _explain(error: ValidationError, doc: Document) -> Iterator[RuleError]:
    handler = _HANDLERS.get(str(error.validator), _default)
    yield from handler(error, doc)


def _default(error: ValidationError, doc: Document) -> Iterator[RuleError]:
    path = _path(error)
    yield RuleError("E204", _plain(error.message), doc.loc(path), path)


def _plain(message: str) -> str:
    return message.replace("Decimal(", "(")


def _additional(error: ValidationError, doc: Document) -> Iterator[RuleError]:
    path = _path(error)
    allowed = sorted(error.schema.get("properties", {}))
    instance = error.instance if isinstance(error.instance, dict) else {}
    for key in instance:
        if key in allowed:
            continue
        hint = did_you_mean(key, allowed)
        allowed_text = ", ".join(allowed) if allowed else "none"
        yield RuleError("E200", f"unknown key {key!r}", doc.loc((*path, key), key=True), (*path, key),
                        hint=hint or f"allowed keys here: {allowed_text}")


def _required(error: ValidationError, doc: Document) -> Iterator[RuleError]:
    path = _path(error)
    missing = error.message.split("'")[1] if "'" in error.message else error.message
    known = error.schema.get("properties", {})
    if error.schema.get("additionalProperties") is False and isinstance(error.instance, dict) and any(
            key not in known and did_you_mean(key, [missing]) for key in error.instance):
        return  # a misspelling of the missing key: the unknown-key error already says "did you mean"
    yield RuleError("E201", f"missing required key {missing!r}", doc.loc(path), path)


_TYPE_NAMES = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "true or false",
               "object": "a mapping", "array": "a list", "null": "null"}


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, (float,)) or type(value).__name__ == "Decimal":
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "null" if value is None else type(value).__name__


def _type(error: ValidationError, doc: Document) -> Iterator[RuleError]:
    path = _path(error)
    wanted = error.validator_value
    names = [_TYPE_NAMES.get(str(w), str(w)) for w in (wanted if isinstance(wanted, list) else [wanted])]
    yield RuleError("E202", f"expected {' or '.join(names)}, got {_type_of(error.instance)}", doc.loc(path), path)


def _enum(error: ValidationError, doc: Document) -> Iterator[RuleError]:
    path = _path(error)
    choices = list(error.validator_value)
    hint = did_you_mean(error.instance, choices) if isinstance(error.instance, str) else None
    yield RuleError("E203", f"{error.instance!r} is not one of {', '.join(map(str, choices))}", doc.loc(path), path,
                    hint=hint)


def _const(error: ValidationError, doc: Document) -> Iterator[RuleError]:
    path = _path(error)
    yield RuleError("E203", f"expected {error.validator_value!r}, got {error.instance!r}", doc.loc(path), path)


def _pattern(error: ValidationError, doc: Document) -> Iterator[RuleError]:
    path = _path(error)
    if "propertyNames" in error.absolute_schema_path and isinstance(error.instance, str):
        key_path = (*path, error.instance)
        yield RuleError("E204", f"key {error.instance!r}: {_first_line(error)}", doc.loc(key_path, key=True),
                        key_path)
        return
    if error.validator_value == "^[a-z][a-z0-9_]*$":
        message = f"{error.instance!r} is not a valid name: use lowercase letters, digits and underscores, " \
                  "starting with a letter"
    else:
        message = f"{error.instance!r} does not have the expected form ({error.validator_value})"
    yield RuleError("E204", message, doc.loc(path), path, hint=_describe(error.schema))


def _describe(schema_node: Any) -> str | None:
    if isinstance(schema_node, dict) and schema_node.get("examples"):
        return f"for example {schema_node['examples'][0]!r}"
    return None


def _property_names(error: ValidationError, doc: Document) -> Iterator[RuleError]:
    path = _path(error)
    for sub in error.context or ():
        key = sub.instance
        yield RuleError("E204", f"key {key!r}: {_first_line(sub)}", doc.loc((*path, str(key)), key=True),
                        (*path, str(key)))


def _first_line(error: ValidationError) -> str:
    if error.validator == "pattern" and error.validator_value == "^[a-z][a-z0-9_]*$":
        return "not a valid name: use lowercase letters, digits and underscores, starting with a letter"
    return _plain(error.message)


def _one_of(error: ValidationError, doc: Document) -> Iterator[RuleError]:
    path = _path(error)
    branches: Sequence[Any] = error.validator_value
    if all(isinstance(b, dict) and set(b) == {"required"} for b in branches):
        yield _exclusive_keys(error, doc, [list(b["required"]) for b in branches])
        return
    yield from _best_branch(error, doc, path)


def _exclusive_keys(error: ValidationError, doc: Document, groups: list[list[str]]) -> RuleError:
    path = _path(error)
    instance = error.instance if isinstance(error.instance, dict) else {}
    present = [g for g in groups if all(k in instance for k in g)]
    leads = [g[0] for g in groups]
    if present:
        found = ", ".join("+".join(g) for g in present)
        return RuleError("E205", f"only one of {', '.join(leads)} may be given here (found {found})",
                         doc.loc(path), path)
    partial = [g for g in groups if any(k in instance for k in g)]
    if partial:
        need = partial[0]
        missing = [k for k in need if k not in instance]
        return RuleError("E205", f"{need[0]!r} needs {', '.join(map(repr, missing))} too", doc.loc(path), path)
    return RuleError("E205", f"needs one of {', '.join(leads)}", doc.loc(path), path)


def _best_branch(error: ValidationError, doc: Document, path: tuple[PathPart, ...]) -> Iterator[RuleError]:
    context = list(error.context or ())
    if isinstance(error.instance, dict):
        # Prefer the branch that describes objects: its errors say which key is wrong.
        object_branch = [e for e in context if _branch_accepts_objects(e)]
        if object_branch:
            context = object_branch
    if isinstance(error.instance, list) and "#/$defs/valueNode" in str(error.validator_value):
        yield RuleError("E202", "expected an expression, a constant or a value object, got a list",
                        doc.loc(path), path)
        return
    best = best_match(context) if context else None
    if best is None:
        yield RuleError("E204", _plain(error.message), doc.loc(path), path)
        return
    yield from _explain(best, doc)


def _branch_accepts_objects(error: ValidationError) -> bool:
    # Only a type mismatch of the branch itself (not of something inside it) rules the branch out.
    return not (error.validator == "type" and not error.relative_path and "object" not in str(error.validator_value))


def _dependent(error: ValidationError, doc: Document) -> Iterator[RuleError]:
    path = _path(error)
    yield RuleError("E205", _plain(error.message).replace("is a dependency of", "is needed with"), doc.loc(path),
                    path)


def _if_then(error: ValidationError, doc: Document) -> Iterator[RuleError]:
    path = _path(error)
    yield RuleError("E204", _plain(error.message), doc.loc(path), path)


_HANDLERS = {
    "additionalProperties": _additional,
    "required": _required,
    "type": _type,
    "enum": _enum,
    "const": _const,
    "pattern": _pattern,
    "propertyNames": _property_names,
    "oneOf": _one_of,
    "anyOf": _one_of,
    "dependentRequired": _dependent,
    "not": _if_then,
}
