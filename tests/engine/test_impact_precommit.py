"""The hooks of .pre-commit-hooks.yaml run under the pre-commit tool (issue 18), offline: a pack repository
that names this repository's hooks gets `validate`, `test --base HEAD` and `impact --all --base HEAD`
on its commits. The `-system` hooks run here (the `passerelle` of this environment on the PATH); the
`language: python` ones would first have pre-commit install Passerelle and its dependencies from PyPI
into an environment of its own, which needs the network: their manifest is checked, not run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROW = "      Office Supplies: Fournitures administratives\n"
EDITED = "      Office Supplies: Frais postaux et télécommunications\n"
CASE = "demo_first_sync"

pytestmark = [
    pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed"),
    pytest.mark.skipif(subprocess.run([sys.executable, "-m", "pre_commit", "--version"], capture_output=True,
                                      check=False).returncode != 0,
                       reason="pre-commit is not installed (pip install -e '.[dev]')"),
]


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false",
                           *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def pre_commit(*args: str, cwd: Path, home: Path) -> tuple[int, str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home),
           "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")}
    done = subprocess.run([sys.executable, "-m", "pre_commit", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600, check=False)
    return done.returncode, done.stdout + done.stderr


def test_the_manifest_is_valid_for_pre_commit(tmp_path: Path) -> None:
    code, out = pre_commit("validate-manifest", str(ROOT / ".pre-commit-hooks.yaml"), cwd=tmp_path, home=tmp_path)
    assert code == 0, out


@pytest.fixture
def pack_repo(tmp_path: Path) -> tuple[Path, Path]:
    """(a pack repository using the hooks, pre-commit's home): this repository's hook file in a repository
    of its own, and a repository holding the FreshBooks pack with one case, committed."""
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    shutil.copy(ROOT / ".pre-commit-hooks.yaml", hooks / ".pre-commit-hooks.yaml")
    git("init", "-q", cwd=hooks)
    git("add", ".pre-commit-hooks.yaml", cwd=hooks)
    git("commit", "-q", "-m", "hooks", cwd=hooks)
    rev = git("rev-parse", "HEAD", cwd=hooks)
    repo = tmp_path / "packs"
    shutil.copytree(ROOT / "rules/freshbooks", repo / "rules/freshbooks")
    for case in (repo / "rules/freshbooks/cases").iterdir():
        if case.name != CASE:
            shutil.rmtree(case)
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {hooks}\n    rev: {rev}\n    hooks:\n"
        "      - id: passerelle-validate-system\n      - id: passerelle-test-system\n"
        "      - id: passerelle-impact-system\n", encoding="utf-8")
    git("init", "-q", cwd=repo)
    git("add", ".", cwd=repo)
    return repo, tmp_path / "pre-commit-home"


def test_the_hooks_run_under_pre_commit_on_a_pack_repository(pack_repo: tuple[Path, Path]) -> None:
    repo, home = pack_repo
    code, out = pre_commit("run", cwd=repo, home=home)  # the first commit: no HEAD yet, every profile is new
    assert code == 0, out
    assert "+ freshbooks/demo: new profile (not at the base)" in out
    git("commit", "-q", "-m", "packs", cwd=repo)
    code, out = pre_commit("run", "--all-files", cwd=repo, home=home)
    assert code == 0, out
    assert out.count("Passed") == 3, out
    assert "freshbooks/demo: no change" in out and "No changes." in out  # impact's output is shown (verbose)
    # a shared row edited: the case's expected plan no longer holds (test fails, naming the edit) and impact
    # shows what changes for each customer, without failing the commit itself (--exit-zero)
    tables = repo / "rules/freshbooks/tables.yaml"
    tables.write_text(tables.read_text(encoding="utf-8").replace(ROW, EDITED), encoding="utf-8")
    git("add", "rules", cwd=repo)
    code, out = pre_commit("run", cwd=repo, home=home)
    assert code == 1, out
    assert "FAILED freshbooks/demo_first_sync" in out and "changes this case's plan" in out
    assert "~ freshbooks/demo: " in out
    assert 'Line[0].AccountBasedExpenseLineDetail.AccountRef.name: "Fournitures administratives" -> ' \
        '"Frais postaux et télécommunications"' in out
    # a rule file that no longer validates: the located error, and the commit is refused
    pack = repo / "rules/freshbooks/pack.yaml"
    pack.write_text(pack.read_text(encoding="utf-8").replace("kind: pack\n", "kind: pack\nbogus: 1\n"),
                    encoding="utf-8")
    git("add", "rules", cwd=repo)
    code, out = pre_commit("run", "passerelle-validate-system", cwd=repo, home=home)
    assert code == 1, out
    assert "rules/freshbooks/pack.yaml:" in out and "bogus" in out
