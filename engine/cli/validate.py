"""``passerelle validate PATH...``: check packs and profiles; exit 0 when all are valid, 1 otherwise."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from engine.build import build_profile
from engine.cli.output import handle_errors, print_errors
from engine.compile import compile_pack
from engine.errors import Loc, PasserelleError, RuleError
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


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@handle_errors
def validate(paths: tuple[Path, ...]) -> None:
    """Validate rule packs and customer profiles (files or folders)."""
    errors, counts = validate_paths(list(paths))
    if print_errors(errors):
        sys.exit(1)
    click.echo(f"ok: {counts['packs']} pack(s), {counts['profiles']} profile(s) valid")
