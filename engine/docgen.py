"""The reference page for integration engineers, generated from the shipped schemas and registries.

``render_reference()`` walks ``pack.schema.json`` and ``profile.schema.json`` (every key of every
object with its type, allowed values, default, description and examples), then lists the
expression functions, the template filters and the error codes the engine raises. The output
is deterministic: schema keys keep their authored order, everything else is sorted.

``python -m engine.docgen`` rewrites ``docs/reference.md``; ``--check`` exits 1 when it is stale.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.functions import FUNCTIONS
from engine.resources import schema
from engine.templates import _ENV

__all__ = ["ERROR_FAMILIES", "main", "reference_path", "render_reference", "schema_property_names"]

_ENGINE_DIR = Path(__file__).resolve().parent

# Hand-written: what each family of error codes is about (the first digit of the code).
ERROR_FAMILIES: Mapping[str, str] = {
    "E1": "Loading: a file cannot be found or read, is not safe YAML (tags, alias bombs, excessive nesting, "
          "non-finite numbers, complex keys), or is not the kind of document expected.",
    "E2": "Schema: the document does not follow pack.schema.json or profile.schema.json (unknown key, wrong "
          "type, value not allowed, missing required key); the message gives the exact location.",
    "E3": "Resolve: names do not refer to anything (unknown table, setting, connection, flow or entity), a "
          "profile sets an unknown or ill-typed setting or table row, includes clash, or flows depend on each "
          "other in a cycle.",
    "E4": "Compile: an expression or template is not valid (unknown name or function, forbidden construct, "
          "syntax error, wrong number of arguments, a constant that is too large) or a compile-time choice "
          "such as `entity_expr` gives a value that is not allowed.",
    "E5": "Machines: a state machine is inconsistent (unknown state, unreachable or dead-end states, "
          "ambiguous or conflicting transitions).",
    "E6": "Evaluation: mapping a record failed at run time (bad data, a missing reference or table row, an "
          "expression raising); reported with the record's key and the rule's location.",
    "E7": "State store: the database holding the ledger and sync state cannot be opened or used.",
    "E8": "Plans: a saved plan cannot be read (bad JSON, unsupported version) or is stale (the target changed since).",
}


@dataclass
class _Section:
    title: str
    intro: str
    schema: str
    parts: list[str] = field(default_factory=list)  # "" for the root, else a $defs name


# Which definitions each concept section renders; definitions not listed land in "Other definitions".
_SECTIONS: tuple[_Section, ...] = (
    _Section("Pack file and metadata", "The top level of a pack file (`kind: pack` or `kind: pack-part`), the "
             "`pack:` metadata block and secret references.", "pack.schema.json", ["", "meta", "secretRef"]),
    _Section("Common formats", "String formats used by many keys: names, expressions, templates, durations "
             "and dates.", "pack.schema.json", ["name", "expression", "template", "duration", "date"]),
    _Section("Connections", "The systems a pack talks to: `qbo` (QuickBooks Online), `http` (a product API "
             "declared in the pack) and `file` (JSON/NDJSON/CSV files).", "pack.schema.json",
             ["connection", "qboConnection", "httpConnection", "httpAuth", "httpResource", "httpWrite",
              "productEvents", "fileConnection"]),
    _Section("Settings", "The knobs a customer profile may set.", "pack.schema.json", ["setting"]),
    _Section("Tables", "Named lookup tables, inline or from CSV, overridable per customer.", "pack.schema.json",
             ["table"]),
    _Section("Flows", "How records of one side become records of the other.", "pack.schema.json",
             ["flow", "endpoint", "fields", "child"]),
    _Section("Value objects", "A mapped value is an expression string, a constant, or an object with exactly "
             "one of `expr`, `template`, `const`, `lookup`, `ref`, `object`, `each`, `list`, plus the "
             "modifiers `when`, `type` and `round`.", "pack.schema.json", ["value", "valueNode"]),
    _Section("Machines", "State machines driven by source events.", "pack.schema.json", ["machine"]),
    _Section("Checks", "Prerequisites verified against the live QBO company before a sync.", "pack.schema.json",
             ["check"]),
    _Section("Schedule", "When syncs run and from which date records count.", "pack.schema.json", ["schedule"]),
    _Section("Customer profile", "A profile (`kind: profile`) names its pack, sets settings, overrides table "
             "rows and maps secrets to environment variables.", "profile.schema.json", [""]),
)


def _anchor(schema_name: str, part: str) -> str:
    base = "profile" if schema_name.startswith("profile") else "pack"
    return f"{base}-{part.lower()}" if part else f"{base}-root"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _code(text: str) -> str:
    fence = "``" if "`" in text else "`"
    pad = " " if "`" in text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


class _Renderer:
    def __init__(self, schema_name: str, doc: Mapping[str, Any]) -> None:
        self.schema_name = schema_name
        self.doc = doc

    def ref_link(self, ref: str) -> str:
        name = ref.rsplit("/", 1)[-1]
        return f"[{name}](#{_anchor(self.schema_name, name)})"

    def type_of(self, node: Mapping[str, Any]) -> str:
        """A short human type: string, list of X, map of name to Y, a link to a definition ..."""
        if "$ref" in node:
            return self.ref_link(str(node["$ref"]))
        if "const" in node:
            return "constant"
        options = node.get("anyOf") or node.get("oneOf")
        if options and not node.get("type"):
            return " or ".join(dict.fromkeys(self.type_of(o) for o in options))
        kind = node.get("type")
        kinds = list(kind) if isinstance(kind, list) else [kind] if kind else []
        out = []
        for k in kinds:
            if k == "array":
                items = node.get("items")
                out.append(f"list of {self.type_of(items)}" if isinstance(items, Mapping) else "list")
            elif k == "object" and isinstance(node.get("additionalProperties"), Mapping) \
                    and not node.get("properties"):
                out.append(f"map of name to {self.type_of(node['additionalProperties'])}")
            else:
                out.append(str(k))
        if out:
            return " or ".join(out)
        if "enum" in node:
            return "one of the allowed values"
        return "any"

    @staticmethod
    def allowed(node: Mapping[str, Any]) -> str:
        parts = []
        if "const" in node:
            parts.append(_code(_json(node["const"])))
        if "enum" in node:
            parts.append(", ".join(_code(_json(v)) for v in node["enum"]))
        for key, label in (("minimum", ">="), ("maximum", "<="), ("exclusiveMinimum", ">"),
                           ("exclusiveMaximum", "<"), ("minLength", "length >="), ("maxLength", "length <="),
                           ("minItems", "items >="), ("maxItems", "items <=")):
            if key in node:
                parts.append(f"{label} {node[key]}")
        if "pattern" in node:
            parts.append(f"pattern {_code(str(node['pattern']))}")
        if "format" in node:
            parts.append(f"format {node['format']}")
        names = node.get("propertyNames")
        if isinstance(names, Mapping) and "pattern" in names:
            parts.append(f"keys match {_code(str(names['pattern']))}")
        return "; ".join(parts)

    def rows(self, node: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, Mapping[str, Any], bool]]:
        """(dotted key, schema, required) for every property, descending into inline objects."""
        required = set(node.get("required", ()))
        for name, prop in node.get("properties", {}).items():
            path = f"{prefix}{name}"
            yield path, prop, name in required
            yield from self.nested(prop, path)

    def nested(self, prop: Mapping[str, Any], path: str) -> Iterator[tuple[str, Mapping[str, Any], bool]]:
        if "$ref" in prop:
            return
        if prop.get("properties"):
            yield from self.rows(prop, f"{path}.")
        extra = prop.get("additionalProperties")
        if isinstance(extra, Mapping) and extra.get("properties"):
            yield from self.rows(extra, f"{path}.<name>.")
        items = prop.get("items")
        if isinstance(items, Mapping) and items.get("properties"):
            yield from self.rows(items, f"{path}[].")
        for option in (*prop.get("anyOf", ()), *prop.get("oneOf", ())):
            if isinstance(option, Mapping) and option.get("properties") and "$ref" not in option:
                yield from self.rows(option, f"{path}.")

    def table(self, node: Mapping[str, Any]) -> list[str]:
        rows = list(self.rows(node, ""))
        extra = node.get("additionalProperties")
        if isinstance(extra, Mapping) and not node.get("properties"):
            rows.extend(self.nested({"additionalProperties": extra}, "<name>"))
        if not rows:
            return []
        lines = ["| Key | Type | Required | Default | Allowed values | Description | Examples |",
                 "|---|---|---|---|---|---|---|"]
        for path, prop, required in rows:
            default = _code(_json(prop["default"])) if "default" in prop else ""
            examples = ", ".join(_code(_json(e)) for e in prop.get("examples", ()))
            lines.append(f"| {_code(path)} | {_cell(self.type_of(prop))} | {'yes' if required else ''} | "
                         f"{_cell(default)} | {_cell(self.allowed(prop))} | {_cell(str(prop.get('description', '')))}"
                         f" | {_cell(examples)} |")
        return lines

    def conditions(self, node: Mapping[str, Any]) -> list[str]:
        lines = []
        for rule in node.get("allOf", ()):
            cond, then = rule.get("if", {}), rule.get("then", {})
            when = ", ".join(f"`{k}` is {_code(_json(v.get('const', v.get('enum'))))}"
                             for k, v in cond.get("properties", {}).items())
            if "$ref" in then:
                lines.append(f"- When {when}: the keys of {self.ref_link(str(then['$ref']))} apply.")
            elif then.get("required"):
                keys = ", ".join(f"`{k}`" for k in then["required"])
                lines.append(f"- When {when}: {keys} required.")
            elif "not" in then:
                banned = sorted({k for o in then["not"].get("anyOf", ()) for k in o.get("required", ())})
                lines.append(f"- When {when}: {', '.join(f'`{k}`' for k in banned)} not allowed.")
        if node.get("oneOf") and node.get("properties"):
            choices = [" + ".join(f"`{k}`" for k in o.get("required", ())) for o in node["oneOf"]]
            if all(choices):
                lines.append(f"- Exactly one of {', '.join(sorted(choices))}.")
        for key, needs in sorted(node.get("dependentRequired", {}).items()):
            lines.append(f"- `{key}` needs {', '.join(f'`{k}`' for k in needs)}.")
        return lines

    def part(self, part: str) -> list[str]:
        node: Mapping[str, Any] = self.doc if not part else self.doc["$defs"][part]
        title = f"`{part}`" if part else (self.doc.get("title") or self.schema_name)
        lines = [f'<a id="{_anchor(self.schema_name, part)}"></a>', "", f"### {title}", ""]
        description = node.get("description")
        if description:
            lines += [_cell(str(description)), ""]
        summary = [f"Type: {self.type_of(node)}."]
        allowed = self.allowed(node)
        if allowed:
            summary.append(f"Allowed: {allowed}.")
        if node.get("additionalProperties") is False:
            summary.append("No other keys.")
        if "examples" in node:
            summary.append("Examples: " + ", ".join(_code(_json(e)) for e in node["examples"]) + ".")
        lines += [" ".join(summary), ""]
        conditions = self.conditions(node)
        if conditions:
            lines += [*conditions, ""]
        table = self.table(node)
        if table:
            lines += [*table, ""]
        return lines


def schema_property_names(doc: Any) -> set[str]:
    """Every key declared under any ``properties`` of a schema (for completeness checks)."""
    found: set[str] = set()
    if isinstance(doc, Mapping):
        props = doc.get("properties")
        if isinstance(props, Mapping):
            found.update(str(k) for k in props)
        for value in doc.values():
            found |= schema_property_names(value)
    elif isinstance(doc, list):
        for value in doc:
            found |= schema_property_names(value)
    return found


def _schema_sections() -> list[str]:
    lines: list[str] = []
    covered: dict[str, set[str]] = {}
    for section in _SECTIONS:
        doc = schema(section.schema)
        renderer = _Renderer(section.schema, doc)
        covered.setdefault(section.schema, set()).update(section.parts)
        lines += [f"## {section.title}", "", section.intro, ""]
        for part in section.parts:
            lines += renderer.part(part)
    for schema_name, parts in sorted(covered.items()):
        doc = schema(schema_name)
        rest = sorted(set(doc.get("$defs", {})) - parts)
        if rest:
            renderer = _Renderer(schema_name, doc)
            lines += [f"## Other definitions ({schema_name})", ""]
            for part in rest:
                lines += renderer.part(part)
    return lines


def _functions() -> list[str]:
    lines = ["## Expression functions", "",
             "Expressions may call only these functions (`engine/functions.py`). Attribute and index reads "
             "(`a.b`, `a['b']`) on missing keys give null.", "",
             "| Function | Arguments | Description |", "|---|---|---|"]
    for name in sorted(FUNCTIONS):
        spec = FUNCTIONS[name]
        most = "any" if spec.max_args is None else str(spec.max_args)
        count = str(spec.min_args) if most == str(spec.min_args) else f"{spec.min_args} to {most}"
        lines.append(f"| `{name}` | {count} | {_cell(spec.doc)} |")
    return [*lines, ""]


def _filter_doc(fn: Any) -> str:
    same = [spec.doc for spec in FUNCTIONS.values() if spec.fn is fn]
    doc = (same[0] if same else getattr(fn, "__doc__", None) or "").strip()
    first = doc.split("\n\n", 1)[0]
    return _cell(first) if first else ""


def _filters() -> list[str]:
    lines = ["## Template filters", "",
             "Templates are sandboxed Jinja2: undefined names are errors, null renders as an empty string, "
             "and only these filters exist.", "", "| Filter | Description |", "|---|---|"]
    for name in sorted(_ENV.filters):
        lines.append(f"| `{name}` | {_filter_doc(_ENV.filters[name])} |")
    return [*lines, ""]


def _message_text(node: ast.expr | None) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(_message_text(v) if isinstance(v, ast.Constant) else "…" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _message_text(node.left) + _message_text(node.right)
    return "…"


_CODE = re.compile(r"^E\d{3}$")


def error_codes() -> dict[str, tuple[set[str], set[str]]]:
    """Every ``"Ennn"`` code the engine passes as a first or second argument: code -> (modules, messages)."""
    found: dict[str, tuple[set[str], set[str]]] = {}
    for path in sorted(_ENGINE_DIR.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        module = path.relative_to(_ENGINE_DIR.parent).with_suffix("").as_posix().replace("/", ".")
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            for index, arg in enumerate(node.args[:2]):  # RuleError("E401", msg) or self.fail(node, "E401", msg)
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and _CODE.match(arg.value):
                    modules, messages = found.setdefault(arg.value, (set(), set()))
                    modules.add(module)
                    message = _message_text(node.args[index + 1] if len(node.args) > index + 1 else None)
                    if message.strip("… "):
                        messages.add(" ".join(message.split()))
                    break
    return found


def _errors() -> list[str]:
    codes = error_codes()
    lines = ["## Error codes", "",
             "Every problem carries a code, a location (file, line, column and key path) and often a hint. "
             "The first digit gives the stage; `…` stands for the parts of a message that vary.", ""]
    for family in sorted(ERROR_FAMILIES):
        lines += [f"### {family}xx", "", ERROR_FAMILIES[family], "", "| Code | Raised in | Messages |",
                  "|---|---|---|"]
        for code in sorted(c for c in codes if c.startswith(family)):
            modules, messages = codes[code]
            shown = "<br>".join(_code(m) for m in sorted(messages)[:4])
            more = f" (+{len(messages) - 4} more)" if len(messages) > 4 else ""
            lines.append(f"| {code} | {', '.join(f'`{m}`' for m in sorted(modules))} | {_cell(shown)}{more} |")
        lines.append("")
    unknown = sorted(c for c in codes if c[:2] not in ERROR_FAMILIES)
    if unknown:
        lines += ["Codes outside the families above: " + ", ".join(unknown) + ".", ""]
    return lines


def render_reference() -> str:
    """The whole reference page as Markdown."""
    lines = ["# Passerelle reference", "",
             "<!-- Generated by `python -m engine.docgen` from schemas/*.schema.json, engine/functions.py, "
             "engine/templates.py and the engine's error codes. Do not edit by hand. -->", "",
             "Every key of a rule pack and a customer profile, the functions expressions may call, the "
             "template filters and the error codes. Keys are listed in the schema's order; nested keys are "
             "dotted (`<name>` stands for a name you choose, `[]` for each item of a list).", "",
             "## Contents", ""]
    for section in _SECTIONS:
        lines.append(f"- {section.title}")
    lines += ["- Expression functions", "- Template filters", "- Error codes", ""]
    lines += _schema_sections()
    lines += _functions()
    lines += _filters()
    lines += _errors()
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n"


def reference_path() -> Path:
    return _ENGINE_DIR.parent / "docs" / "reference.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.docgen", description="Write docs/reference.md.")
    parser.add_argument("--check", action="store_true", help="exit 1 when docs/reference.md is out of date")
    parser.add_argument("--output", type=Path, default=None, help="where to write (default docs/reference.md)")
    args = parser.parse_args(argv)
    target: Path = args.output or reference_path()
    text = render_reference()
    current = target.read_text(encoding="utf-8") if target.is_file() else None
    if args.check:
        if current != text:
            print(f"{target} is out of date: run `python -m engine.docgen`", file=sys.stderr)
            return 1
        print(f"{target} is up to date")
        return 0
    if current != text:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target}")
    else:
        print(f"{target} unchanged")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
