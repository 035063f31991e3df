"""What the code promises, as data: config keys, queue topology and metric names.

Everything here is derived from config/defaults.toml where the file says it, and otherwise
copied from the contract the services are written against (docs/operations.md names it).
If the Rust side changes a name, this file is the one place to follow it.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

# Binaries of the production image (Dockerfile stage PRODUCTION_STAGE, the last one, what a
# plain `docker build .` produces); the container command picks one.
BINARIES = ("new-hire", "device-purchased", "device-shipped", "onboardctl")
PRODUCTION_STAGE = "runtime"
# The Graph emulator is test infrastructure and a token issuer: its own stage and image only.
EMULATOR_BINARY = "graph-emulator"
EMULATOR_STAGE = "emulator"

# Service -> routing key it consumes (hr / procurement publish these).
ROUTING_KEYS = {
    "new-hire": "hr.employee.hired",
    "device-purchased": "procurement.device.purchased",
    "device-shipped": "procurement.device.shipped",
}

# Prometheus series the services expose (histograms with their suffixes), with their labels.
METRICS = {
    "onboarding_messages_total": {"service", "outcome"},
    "onboarding_handler_duration_seconds_bucket": {"service", "le"},
    "onboarding_handler_duration_seconds_sum": {"service"},
    "onboarding_handler_duration_seconds_count": {"service"},
    "onboarding_graph_requests_total": {"service", "method", "route", "status"},
    "onboarding_retries_total": {"service", "tier"},
    "onboarding_dead_letters_total": {"service", "class"},
    "onboarding_would_writes_total": {"service", "method", "route"},
    "onboarding_queue_messages": {"service", "queue"},
    "onboarding_broker_connected": {"service"},
}
# Labels Prometheus itself adds to every scraped series.
TARGET_LABELS = {"job", "instance", "namespace", "pod", "container", "environment"}

_DURATION = re.compile(r"^(\d+)(ms|s|m|h)$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}


def duration_ms(text: str) -> int:
    """A humantime duration as config/defaults.toml writes them ("5s", "30m") in milliseconds."""
    found = _DURATION.match(text)
    if not found:
        raise ValueError(f"unsupported duration {text!r}")
    return int(found.group(1)) * _UNIT_MS[found.group(2)]


@dataclass(frozen=True)
class QueueSpec:
    name: str
    role: str  # work | delay | dead
    arguments: dict


@dataclass
class Contract:
    defaults: dict
    exchange: str
    queues: dict[str, list[QueueSpec]]  # service -> its queues
    env_keys: set[str]
    env_prefixes: set[str]  # tables with free-form keys (department_groups)

    def work_queue(self, service: str) -> str:
        return next(q.name for q in self.queues[service] if q.role == "work")


def load(root: Path) -> Contract:
    defaults = tomllib.loads((root / "config" / "defaults.toml").read_text())
    amqp = defaults["amqp"]
    queues = {}
    for key, work in amqp["queues"].items():
        service = key.replace("_", "-")
        queues[service] = _queues_of(work, amqp)
    env_keys, prefixes = set(), set()
    _flatten(defaults, ["ONBOARDING"], env_keys, prefixes)
    return Contract(defaults, amqp["exchange"], queues, env_keys, prefixes)


def _queues_of(work: str, amqp: dict) -> list[QueueSpec]:
    # must match shared/src/amqp/topology.rs
    dead = f"{work}.dead"
    specs = [QueueSpec(work, "work", {
        "x-queue-type": "quorum",
        "x-delivery-limit": amqp["delivery_limit"],
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": dead,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    })]
    for tier in amqp["delay_tiers"]:
        specs.append(QueueSpec(f"{work}.delay.{tier}", "delay", {
            "x-queue-type": "quorum",
            "x-message-ttl": duration_ms(tier),
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": work,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }))
    # DEAD_QUEUE_DELIVERY_LIMIT: RabbitMQ 4.x would otherwise default to 20 and drop a letter
    # that `onboardctl dead list` has looked at 20 times.
    specs.append(QueueSpec(dead, "dead", {"x-queue-type": "quorum", "x-delivery-limit": 1_000_000}))
    return specs


def _flatten(table: dict, path: list[str], keys: set[str], prefixes: set[str]) -> None:
    for key, value in table.items():
        name = path + [key.upper()]
        if isinstance(value, dict):
            if not value:  # an empty table in defaults = user-chosen keys (department_groups)
                prefixes.add("__".join(name) + "__")
            _flatten(value, name, keys, prefixes)
        else:
            keys.add("__".join(name))


def env_key_problem(contract: Contract, name: str) -> str | None:
    """Why an ONBOARDING__* variable would not reach a setting, or None if it does."""
    if not name.startswith("ONBOARDING__"):
        return None
    if name in contract.env_keys or any(name.startswith(p) for p in contract.env_prefixes):
        return None
    return f"{name} names no key of config/defaults.toml"


def toml_key_problems(contract: Contract, doc: dict, path: tuple = ()) -> list[str]:
    """Keys of a service.toml that config/defaults.toml does not have (deny_unknown_fields)."""
    known = contract.defaults
    for part in path:
        known = known.get(part, {})
    problems = []
    for key, value in doc.items():
        if key not in known:
            if known == {} and path:  # free-form table
                continue
            problems.append(f"unknown key {'.'.join(path + (key,))}")
        elif isinstance(value, dict):
            problems += toml_key_problems(contract, value, path + (key,))
    return problems
