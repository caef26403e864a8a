"""``passerelle validate PATH...``: check packs and profiles; exit 0 when all are valid, 1 otherwise."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from engine.build import build_profile
from engine.cli.output import handle_errors, print_errors
from engine.compile import compile_pack
from engine.errors import Loc, PasserelleError, RuleError, json_path, sort_errors
from engine.model import RulePack
from engine.pipeline import load_pack, run_pipeline
from engine.resolve import resolve
from engine.source import load_file
from engine.validate import did_you_mean, validate_document

__all__ = ["validate", "validate_paths"]


def _yaml_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))


def _check_pack_dir(folder: Path, errors: list[RuleError], counts: dict[str, int]) -> None:
    pack_ok = True
    try:
        pack: RulePack | None = load_pack(folder)
        assert pack is not None
        compile_pack(resolve(pack))
        counts["packs"] += 1
    except PasserelleError as exc:
        errors.extend(exc.errors)
        pack, pack_ok = None, False
    customers = folder / "customers"
    if customers.is_dir():
        for profile_path in _yaml_files(customers):
            _check_profile(profile_path, pack, errors, counts, pack_ok)


def _check_profile(path: Path, pack: RulePack | None, errors: list[RuleError], counts: dict[str, int],
                   pack_ok: bool = True) -> None:
    """Check a profile in a pack's customers/ folder; when the pack itself failed, check only the profile file."""
    try:
        doc = load_file(path)
        if doc.data.get("kind") != "profile":
            # Checked before the schema: a wrong kind would otherwise show as a list of unrelated key errors.
            raise PasserelleError([RuleError("E110", f"files in customers/ must be profiles (kind: profile), not "
                                             f"kind {doc.data.get('kind')!r}", doc.loc(("kind",)), ("kind",))])
        problems = validate_document(doc)
        if problems:
            raise PasserelleError(problems)
        profile = build_profile(doc)
        if pack is None:
            if pack_ok:
                run_pipeline(path)
            else:
                return  # the pack's own errors are reported; resolving against it would only repeat them
        else:
            ref = profile.pack_ref
            by_path = "/" in ref or ref.endswith((".yaml", ".yml")) or ref in (".", "..")
            if not by_path and ref != pack.meta.name:
                raise PasserelleError([RuleError(
                    "E110", f"profile is for pack {ref!r}, but it is in the customers/ folder of pack "
                    f"{pack.meta.name!r}", profile.pack_ref_loc, ("pack",),
                    hint=did_you_mean(ref, [pack.meta.name]) or "move the profile to its pack's customers/ folder")])
            compile_pack(resolve(pack, profile))
        counts["profiles"] += 1
    except PasserelleError as exc:
        errors.extend(exc.errors)


def _check_file(path: Path, errors: list[RuleError], counts: dict[str, int]) -> None:
    try:
        doc = load_file(path)
        problems = validate_document(doc)
        if problems:
            raise PasserelleError(problems)
        kind = doc.data.get("kind")
        if kind == "pack-part":
            counts["parts"] += 1
            return
        run_pipeline(path)
        counts["profiles" if kind == "profile" else "packs"] += 1
    except PasserelleError as exc:
        errors.extend(exc.errors)


def _walk(path: Path, errors: list[RuleError], counts: dict[str, int], top: bool) -> None:
    if path.is_dir():
        if (path / "pack.yaml").is_file():
            _check_pack_dir(path, errors, counts)
            return
        for child in sorted(path.iterdir()):
            if child.is_dir() and not child.name.startswith("."):
                _walk(child, errors, counts, top=False)
            elif top and child.suffix in (".yaml", ".yml"):
                _check_file(child, errors, counts)
    elif path.exists():
        _check_file(path, errors, counts)
    else:
        errors.append(RuleError("E100", "no such file or folder", Loc(str(path))))


def validate_paths(paths: list[Path]) -> tuple[list[RuleError], dict[str, int]]:
    errors: list[RuleError] = []
    counts = {"packs": 0, "profiles": 0, "parts": 0}
    for path in paths:
        _walk(path, errors, counts, top=True)
    return errors, counts


def _text(errors: list[RuleError], counts: dict[str, int]) -> int:
    failed = print_errors(errors)
    if not failed:
        click.echo(f"ok: {counts['packs']} pack(s), {counts['profiles']} profile(s) valid")
    return failed


def _as_dict(error: RuleError) -> dict[str, Any]:
    loc = error.loc
    return {"code": error.code, "severity": error.severity, "message": error.message,
            "file": loc.file if loc else None, "line": loc.line if loc else None, "col": loc.col if loc else None,
            "path": json_path(error.path) if error.path else None, "hint": error.hint, "notes": list(error.notes)}


def _json(errors: list[RuleError], counts: dict[str, int]) -> int:
    ordered = sort_errors(errors)
    failed = sum(1 for e in ordered if e.severity == "error")
    click.echo(json.dumps({"ok": not failed, "counts": counts, "errors": [_as_dict(e) for e in ordered]},
                          ensure_ascii=False, indent=2))
    return failed


def _escape(text: str, *, prop: bool = False) -> str:
    """GitHub workflow-command escaping (data: %, CR, LF; properties also : and ,)."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def _github(errors: list[RuleError], counts: dict[str, int]) -> int:
    """One `::error file=…,line=…,col=…,title=…::message` line per finding: GitHub Actions shows each as an
    annotation on the pack's line in the pull request."""
    ordered = sort_errors(errors)
    for error in ordered:
        level = "error" if error.severity == "error" else "warning"
        props = [f"title={_escape(error.code, prop=True)}"]
        if error.loc is not None:
            props = [f"file={_escape(error.loc.file, prop=True)}", f"line={error.loc.line}", f"col={error.loc.col}",
                     *props]
        body = error.message + (f"\n  at {json_path(error.path)}" if error.path else "") + \
            (f"\nhint: {error.hint}" if error.hint else "")
        click.echo(f"::{level} {','.join(props)}::{_escape(body)}")
    failed = sum(1 for e in ordered if e.severity == "error")
    click.echo(f"{'ok' if not failed else 'failed'}: {counts['packs']} pack(s), {counts['profiles']} profile(s) "
               f"checked, {failed} error(s)")
    return failed


FORMATS: dict[str, Callable[[list[RuleError], dict[str, int]], int]] = {"text": _text, "json": _json,
                                                                        "github": _github}


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "output", type=click.Choice(sorted(FORMATS)), default="text", show_default=True,
              help="text: compiler-style lines on stderr; json: one document on stdout; github: workflow "
                   "commands that annotate the lines of a pull request.")
@handle_errors
def validate(paths: tuple[Path, ...], output: str) -> None:
    """Validate rule packs and customer profiles (files or folders); exit 0 when all are valid, 1 otherwise.

    \b
    Example:
      passerelle validate rules/
      passerelle validate rules/acme --format github   # in a CI job
    """
    errors, counts = validate_paths(list(paths))
    if FORMATS[output](errors, counts):
        sys.exit(1)
