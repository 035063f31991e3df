#!/usr/bin/env python3
"""Validates everything under deploy/ plus docker-compose.yml, offline, without Docker or a
cluster. Run it through deploy/validate.sh, which installs the dependencies first.

One line per file checked ("ok" or "FAIL" with the reasons below it), then
"N passed, M failed". Exit status 1 if anything failed, 2 if a tool is missing.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import compose  # noqa: E402
import image  # noqa: E402
import contract as contract_mod  # noqa: E402
import k8s  # noqa: E402
import observability  # noqa: E402
from schemas import SchemaSet  # noqa: E402


class Report:
    def __init__(self, root: Path):
        self.root, self.passed, self.failed = root, 0, 0

    def record(self, path: Path | str, problems: list[str], detail: str = "") -> None:
        name = os.path.relpath(path, self.root) if isinstance(path, Path) else path
        if problems:
            self.failed += 1
            print(f"FAIL {name}" + (f"  ({detail})" if detail else ""))
            for p in problems:
                print(f"       - {p if len(p) <= 600 else p[:600] + ' ...'}")
        else:
            self.passed += 1
            print(f"ok   {name}" + (f"  ({detail})" if detail else ""))

    def run(self, path, check) -> None:
        try:
            problems, detail = check()
        except Exception as err:  # a file that does not even parse is a failure, not a crash
            problems, detail = [f"{type(err).__name__}: {err}"], ""
        self.record(path, problems, detail)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--promtool", help="path to promtool; checks needing it fail without it")
    args = parser.parse_args()
    root = Path(__file__).resolve().parents[2]
    deploy = root / "deploy"
    started = time.monotonic()
    report = Report(root)
    contract = contract_mod.load(root)
    promtool = args.promtool if args.promtool and Path(args.promtool).exists() else None
    if promtool is None:
        report.record("promtool", ["promtool not found: rules, config and PromQL were not parsed"])

    report.run(root / "Dockerfile", lambda: image.check(root / "Dockerfile", root / ".dockerignore"))
    report.run(root / "docker-compose.yml", lambda: compose.check(
        root, root / "docker-compose.yml", deploy / "compose" / "demo.env", contract))
    report.run(deploy / "compose" / "otel-collector.yaml",
               lambda: observability.check_otel_collector(deploy / "compose" / "otel-collector.yaml"))
    report.run(deploy / "compose" / "prometheus.yml", lambda: observability.check_prometheus_config(
        deploy / "compose" / "prometheus.yml", deploy / "prometheus" / "alerts.yaml", promtool))
    report.run(deploy / "prometheus" / "alerts.yaml", lambda: observability.check_alerts(
        deploy / "prometheus" / "alerts.yaml", root / "docs" / "operations.md", promtool))
    report.run(root / "docs" / "operations.md",
               lambda: observability.check_markdown_links(root / "docs" / "operations.md"))
    uids: set[str] = set()

    def provisioning():
        problems, found, detail = observability.check_grafana_provisioning(deploy / "grafana" / "provisioning")
        uids.update(found)
        return problems, detail
    report.run(deploy / "grafana" / "provisioning", provisioning)
    report.run(deploy / "grafana" / "onboarding-dashboard.json", lambda: observability.check_dashboard(
        deploy / "grafana" / "onboarding-dashboard.json", uids, promtool))

    schemas = SchemaSet(deploy / "schemas" / "crds")
    command = k8s.kustomize_command()
    for overlay in k8s.KUSTOMIZATIONS:
        directory = deploy / "kubernetes" / overlay
        report.run(directory, lambda: _kubernetes(command, directory, overlay, schemas, contract))

    print(f"validate: {time.monotonic() - started:.1f}s")
    print(f"{report.passed} passed, {report.failed} failed")
    return 1 if report.failed else 0


def _kubernetes(command, directory, overlay, schemas, contract):
    if command is None:
        docs = k8s.raw_resources(directory) if overlay == "base" else []
        note = "no kustomize/kubectl: base resources checked one by one, overlays not rendered"
        problems = [note] if overlay != "base" else []
    else:
        docs, note, problems = k8s.render(command, directory), f"rendered with {' '.join(command)}", []
    problems += k8s.check_objects(docs, schemas)
    problems += k8s.check_retained(docs, schemas)
    if docs:
        problems += k8s.check_render(docs, contract, command is not None, overlay)
    kinds = sorted({d["kind"] for d in docs})
    return problems, f"{len(docs)} objects, {len(kinds)} kinds, {note}"


if __name__ == "__main__":
    sys.exit(main())
