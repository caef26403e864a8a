"""The pipeline as one call per use: file paths in, compiled packs out.

``load → validate → build → resolve → compile``; each step is a pure function of the previous
value, and each raises ``PasserelleError`` carrying every problem it found.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.build import build_pack, build_profile, load_pack_documents
from engine.compile import CompiledPack, compile_pack
from engine.errors import Loc, PasserelleError, RuleError
from engine.model import Profile, RulePack
from engine.resolve import ResolvedPack, resolve
from engine.resources import rules_dir
from engine.source import load_file
from engine.validate import did_you_mean, validate_document

__all__ = ["Loaded", "find_profile", "known_profiles", "load_pack", "load_profile", "pack_file", "run_pipeline"]


@dataclass(frozen=True)
class Loaded:
    """Every stage's value for one profile (or a pack checked alone)."""

    pack: RulePack
    profile: Profile | None
    resolved: ResolvedPack
    compiled: CompiledPack


def pack_file(path: Path) -> Path:
    """A pack directory's main file, or the file itself."""
    if path.is_dir():
        for name in ("pack.yaml", "pack.yml"):
            if (path / name).is_file():
                return path / name
        raise PasserelleError([RuleError("E110", "folder has no pack.yaml", Loc(str(path)))])
    return path


def load_pack(path: Path) -> RulePack:
    return build_pack(load_pack_documents(pack_file(path)))


def _pack_for(profile: Profile, profile_path: Path) -> Path:
    ref = profile.pack_ref
    if "/" in ref or ref.endswith((".yaml", ".yml")) or ref in (".", ".."):
        candidate = (profile_path.parent / ref)
        if candidate.exists():
            return candidate
    else:
        # A profile usually lives in <pack>/customers/; else look the name up in rules/.
        for candidate in (profile_path.parent.parent, profile_path.parent, rules_dir() / ref):
            main = candidate / "pack.yaml"
            if main.is_file() and _pack_name(main) == ref:
                return candidate
    raise PasserelleError([RuleError("E110", f"pack {ref!r} not found (looked beside the profile and in "
                                     f"{rules_dir()})", profile.pack_ref_loc)])


def _pack_name(main: Path) -> str | None:
    try:
        data = load_file(main).data
    except PasserelleError:
        return None
    meta = data.get("pack")
    return str(meta.get("name")) if isinstance(meta, dict) else None


def find_profile(spec: str) -> Path:
    """A profile path, or ``pack/customer`` shorthand for rules/<pack>/customers/<customer>.yaml."""
    path = Path(spec)
    if path.is_file():
        return path
    if "/" in spec and not spec.endswith((".yaml", ".yml")):
        pack, _, customer = spec.partition("/")
        for base in (Path("rules"), rules_dir()):
            candidate = base / pack / "customers" / f"{customer}.yaml"
            if candidate.is_file():
                return candidate
    raise PasserelleError([RuleError("E100", f"profile {spec!r} not found (give a file, or PACK/CUSTOMER for "
                                     "rules/PACK/customers/CUSTOMER.yaml)", None, hint=_profile_hint(spec))])


def known_profiles() -> list[str]:
    """Every ``PACK/CUSTOMER`` the shorthand reaches: ./rules first, then the installed packs."""
    found: dict[str, None] = {}
    for base in (Path("rules"), rules_dir()):
        if base.is_dir():
            for path in sorted(base.glob("*/customers/*.yaml")):
                found.setdefault(f"{path.parent.parent.name}/{path.stem}")
    return list(found)


def _profile_hint(spec: str) -> str | None:
    known = known_profiles()
    if not known:
        return None
    guess = did_you_mean(spec.removesuffix(".yaml"), known)
    listing = f"profiles: {', '.join(known)}"
    return f"{guess} {listing}" if guess else listing


def load_profile(path: Path, load: Callable[[Path], RulePack] = load_pack) -> tuple[Profile, RulePack]:
    doc = load_file(path)
    errors = validate_document(doc)
    if not errors and doc.data.get("kind") != "profile":
        errors.append(RuleError("E110", f"expected a customer profile (kind: profile), got {doc.data.get('kind')!r}",
                                doc.loc(("kind",)), ("kind",)))
    if errors:
        raise PasserelleError(errors)
    profile = build_profile(doc)
    return profile, load(_pack_for(profile, path))


def run_pipeline(path: Path, load: Callable[[Path], RulePack] = load_pack) -> Loaded:
    """Load, validate, resolve and compile a profile file or a pack (file or folder). ``load`` builds a pack
    from its folder; the service passes one that reuses a pack shared by many profiles."""
    if path.is_file() and _is_profile(path):
        profile, pack = load_profile(path, load)
    else:
        profile, pack = None, load(path)
    resolved = resolve(pack, profile)
    return Loaded(pack, profile, resolved, compile_pack(resolved))


def _is_profile(path: Path) -> bool:
    doc = load_file(path)
    return doc.data.get("kind") == "profile"
