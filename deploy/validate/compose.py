"""Checks of docker-compose.yml without a Docker engine: the compose-spec JSON schema, then
what `docker compose config` would also refuse (unknown services in depends_on, undeclared
volumes, missing bind-mount sources, required variables demo.env does not set) and the
config contract (every ONBOARDING__* variable names a key of config/defaults.toml).
"""
from __future__ import annotations

import re
from pathlib import Path

import jsonschema
import yaml

import contract as contract_mod
from schemas import compose_schema

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message}, ${VAR?message}
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


def interpolate(text: str, env: dict[str, str]) -> tuple[str, list[str]]:
    missing = []

    def value(m: re.Match) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3) or ""
        if op and op.endswith("?") and not env.get(name):
            missing.append(f"${{{name}}} is required but {name} is not set in the env file")
        if op and op.endswith("-") and not env.get(name):
            return arg
        return env.get(name, "")
    return _VARIABLE.sub(value, text), missing


def check(root: Path, compose_file: Path, env_file: Path, contract: contract_mod.Contract) -> tuple[list[str], str]:
    raw = compose_file.read_text()
    doc = yaml.safe_load(raw)
    problems = [f"schema: {'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
                for e in jsonschema.Draft202012Validator(compose_schema()).iter_errors(doc)]
    text, missing = interpolate(raw, read_env_file(env_file))
    problems += missing
    config = yaml.safe_load(text)
    services = config.get("services", {})
    volumes = set(config.get("volumes") or {})
    for name, svc in services.items():
        problems += _service(root, compose_file.parent, name, svc, services, volumes, contract)
    return problems, f"{len(services)} services, {len(volumes)} volumes"


def _service(root, base, name, svc, services, volumes, contract) -> list[str]:
    problems = []
    depends = svc.get("depends_on", {})
    for dep in (depends if isinstance(depends, list) else depends.keys()):
        if dep not in services:
            problems.append(f"{name}: depends_on unknown service {dep}")
    for mount in svc.get("volumes", []):
        source = mount.split(":", 1)[0] if isinstance(mount, str) else mount.get("source", "")
        if source.startswith((".", "/")):
            if not (base / source).resolve().exists():
                problems.append(f"{name}: bind mount source {source} does not exist")
        elif source and source not in volumes:
            problems.append(f"{name}: volume {source} is not declared under volumes:")
    env = svc.get("environment", {})
    names = env.keys() if isinstance(env, dict) else [e.split("=", 1)[0] for e in env]
    problems += [f"{name}: {p}" for n in names if (p := contract_mod.env_key_problem(contract, n))]
    problems += _image(name, svc)
    return problems


def _image(name: str, svc: dict) -> list[str]:
    """A service built here names its Dockerfile stage, and runs a binary that stage has: the
    emulator only from the emulator stage, everything else from the production one."""
    build = svc.get("build")
    if not build:
        return []
    target = build.get("target") if isinstance(build, dict) else None
    command = svc.get("entrypoint") or svc.get("command")
    binary = command[0] if isinstance(command, list) and command else None
    if binary == contract_mod.EMULATOR_BINARY:
        stage, binaries = contract_mod.EMULATOR_STAGE, (contract_mod.EMULATOR_BINARY,)
    else:
        stage, binaries = contract_mod.PRODUCTION_STAGE, contract_mod.BINARIES
    problems = []
    if target != stage:
        problems.append(f"{name}: build.target must be {stage!r} (is {target!r})")
    if binary is not None and binary not in binaries:
        problems.append(f"{name}: command {binary} is not a binary of the {stage} image")
    test = (svc.get("healthcheck") or {}).get("test")
    if binary in contract_mod.ROUTING_KEYS and test is None:
        problems.append(f"{name}: needs a healthcheck ({binary} --probe ready)")
    if target == contract_mod.PRODUCTION_STAGE and isinstance(test, list) and test[:1] == ["CMD"] \
            and test[1:2] != [binary] and binary != "onboardctl":
        problems.append(f"{name}: healthcheck must run the service's own binary ({binary} --probe ready): "
                        "the production image is distroless, there is no shell or curl")
    return problems
