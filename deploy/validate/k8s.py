"""Checks of the Kubernetes manifests: render each kustomization, validate every object
against its schema, then check what no schema can: that objects agree with each other and
with the code's contract (queue arguments, env keys, identities, KEDA queue names, least
privilege of the broker users). Not for compose or Prometheus files.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import yaml

import contract as contract_mod
from schemas import SchemaSet

KUSTOMIZATIONS = ("base", "overlays/production", "overlays/dev")
SERVICES = tuple(contract_mod.ROUTING_KEYS)
# Image names (before kustomize's images: rewrite adds a registry and tag).
PRODUCTION_IMAGE, EMULATOR_IMAGE = "onboarding", "onboarding-emulator"
AZURE_CLIENT_ID = "azure.workload.identity/client-id"


def kustomize_command() -> list[str] | None:
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    return None


def render(command: list[str], directory: Path) -> list[dict]:
    out = subprocess.run(command + [str(directory)], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip() or f"{command} failed")
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def raw_resources(directory: Path) -> list[dict]:
    """Without a kustomize binary: the plain resources a kustomization lists, recursively."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    docs = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        if path.is_dir():
            docs += raw_resources(path)
        else:
            docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def check_objects(docs: list[dict], schemas: SchemaSet) -> list[str]:
    problems = []
    for doc in docs:
        where = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        problems += [f"{where}: {e}" for e in schemas.errors(doc)]
    return problems


def check_retained(docs: list[dict], schemas: SchemaSet) -> list[str]:
    """Broker objects outlive their Kubernetes objects: every RabbitMQ topology object whose
    operator version (the vendored CRD) offers spec.deletionPolicy sets it to retain, so a
    deleted object or kustomization never deletes a queue with hires in it. Today that is
    Queue and Vhost; the Exchange CRD has no such field yet (docs/operations.md, "Changing the
    broker topology"), and this check covers it as soon as a vendored CRD that has one does."""
    problems = []
    for doc in docs:
        api_version, kind = doc.get("apiVersion", ""), doc.get("kind", "")
        if not api_version.startswith("rabbitmq.com/"):
            continue
        if "deletionPolicy" in schemas.crd_spec_fields(api_version, kind) \
                and doc.get("spec", {}).get("deletionPolicy") != "retain":
            problems.append(f"{kind}/{doc['metadata']['name']}: spec.deletionPolicy must be retain "
                            "(deleting the object must not delete it in RabbitMQ)")
    return problems


# === semantic checks ===

def check_render(docs: list[dict], contract: contract_mod.Contract, rendered: bool, overlay: str) -> list[str]:
    by_kind: dict[str, dict[str, dict]] = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    problems = _no_secret_values(docs)
    problems += _images(docs, overlay)
    problems += _topology(by_kind, contract)
    problems += _permissions(by_kind, contract)
    for service in SERVICES:
        problems += _service(service, by_kind, contract, rendered, overlay)
    return problems


def _no_secret_values(docs: list[dict]) -> list[str]:
    return [f"Secret/{d['metadata']['name']}: secret values must not be committed"
            for d in docs if d["kind"] == "Secret" and (d.get("data") or d.get("stringData"))]


def _image_name(image: str) -> str:
    """registry.example.com/onboarding/onboarding-emulator:dev -> onboarding-emulator"""
    return image.split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0]


def _images(docs: list[dict], overlay: str) -> list[str]:
    """The emulator runs from its own image and only in the dev overlay; nothing else runs from it."""
    problems = []
    for doc in docs:
        pod = doc.get("spec", {}).get("template", {}).get("spec", {})
        for c in pod.get("containers", []) + pod.get("initContainers", []):
            where = f"{doc['kind']}/{doc['metadata']['name']} container {c['name']}"
            is_emulator = (c.get("command") or [None])[0] == contract_mod.EMULATOR_BINARY
            image = _image_name(c.get("image", ""))
            if is_emulator and overlay != "overlays/dev":
                problems.append(f"{where}: the Graph emulator belongs to the dev overlay only")
            if is_emulator and image != EMULATOR_IMAGE:
                problems.append(f"{where}: the emulator runs from image {EMULATOR_IMAGE}, not {image}")
            if not is_emulator and image == EMULATOR_IMAGE:
                problems.append(f"{where}: image {EMULATOR_IMAGE} is for the emulator only")
    return problems


def _topology(by_kind: dict, contract: contract_mod.Contract) -> list[str]:
    problems = []
    exchanges = {e["spec"]["name"]: e["spec"] for e in by_kind.get("Exchange", {}).values()}
    ex = exchanges.get(contract.exchange)
    if not ex or ex.get("type") != "topic" or ex.get("durable") is not True or ex.get("autoDelete"):
        problems.append(f"Exchange {contract.exchange!r}: must exist, type topic, durable, not auto-delete")
    declared = {q["spec"]["name"]: q["spec"] for q in by_kind.get("Queue", {}).values()}
    expected = {q.name: q for qs in contract.queues.values() for q in qs}
    for name in sorted(set(declared) - set(expected)):
        problems.append(f"Queue {name}: not in the contract (must match shared/src/amqp/topology.rs)")
    for name, spec in sorted(expected.items()):
        got = declared.get(name)
        if got is None:
            problems.append(f"Queue {name}: missing")
            continue
        if got.get("type") != "quorum" or got.get("durable") is not True or got.get("autoDelete"):
            problems.append(f"Queue {name}: must be type quorum, durable, not auto-delete")
        args = got.get("arguments") or {}
        for key in sorted(set(args) | set(spec.arguments)):
            if args.get(key) != spec.arguments.get(key):
                problems.append(f"Queue {name}: argument {key} = {args.get(key)!r}, contract says "
                                f"{spec.arguments.get(key)!r} (must match shared/src/amqp/topology.rs)")
    bindings = {(b["spec"]["source"], b["spec"]["destination"], b["spec"].get("routingKey"))
                for b in by_kind.get("Binding", {}).values()}
    for service, key in contract_mod.ROUTING_KEYS.items():
        if (contract.exchange, contract.work_queue(service), key) not in bindings:
            problems.append(f"Binding {contract.exchange} -> {contract.work_queue(service)} ({key}): missing")
    return problems


def _permissions(by_kind: dict, contract: contract_mod.Contract) -> list[str]:
    """Each service user may touch its own queues and the exchange, and nothing of the others."""
    problems = []
    perms = {p["spec"]["userReference"]["name"]: p["spec"]["permissions"]
             for p in by_kind.get("Permission", {}).values() if "userReference" in p["spec"]}
    for service in SERVICES:
        user = f"onboarding-{service}"
        p = perms.get(user)
        if p is None:
            problems.append(f"Permission for User {user}: missing")
            continue
        own = [q.name for q in contract.queues[service]]
        work = contract.work_queue(service)
        others = [q.name for s in SERVICES if s != service for q in contract.queues[s]]
        must = {"configure": own + [contract.exchange], "write": [contract.exchange, "amq.default", work],
                "read": [contract.exchange, work]}
        for op, names in must.items():
            pattern = re.compile(p[op])
            problems += [f"Permission {user}: {op} must allow {n}" for n in names if not pattern.fullmatch(n)]
            problems += [f"Permission {user}: {op} must not allow {n} (another service's)"
                         for n in others if pattern.fullmatch(n)]
    return problems


def _service(service: str, by_kind: dict, contract: contract_mod.Contract, rendered: bool, overlay: str) -> list[str]:
    problems = []
    dep = by_kind.get("Deployment", {}).get(service)
    if dep is None:
        return [f"Deployment/{service}: missing"]
    pod = dep["spec"]["template"]["spec"]
    labels = dep["spec"]["template"]["metadata"].get("labels", {})
    container = next((c for c in pod["containers"] if c["name"] == service), None)
    if container is None:
        return [f"Deployment/{service}: no container named {service}"]
    where = f"Deployment/{service}"
    if container.get("command", [None])[0] != service:
        problems.append(f"{where}: command must start with the {service} binary")
    if "replicas" in dep["spec"]:
        problems.append(f"{where}: replicas is owned by the ScaledObject; do not set it")
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        if container.get(probe, {}).get("httpGet", {}).get("path") != path:
            problems.append(f"{where}: {probe} must GET {path}")
    if not container.get("resources", {}).get("limits") or not container.get("resources", {}).get("requests"):
        problems.append(f"{where}: resources.requests and .limits are required")
    sc, psc = container.get("securityContext", {}), pod.get("securityContext", {})
    if not (psc.get("runAsNonRoot") and sc.get("readOnlyRootFilesystem") and sc.get("allowPrivilegeEscalation") is False):
        problems.append(f"{where}: must run non-root, read-only root fs, no privilege escalation")
    env = {e["name"]: e for e in container.get("env", [])}
    for name in env:
        if (p := contract_mod.env_key_problem(contract, name)):
            problems.append(f"{where}: {p}")
    if "ONBOARDING__AMQP__URL" not in env:
        problems.append(f"{where}: ONBOARDING__AMQP__URL must be set")
    secret_refs = {e["valueFrom"]["secretKeyRef"]["name"] for e in env.values()
                   if "secretKeyRef" in e.get("valueFrom", {})}
    if f"onboarding-{service}-user-credentials" not in secret_refs:
        problems.append(f"{where}: broker credentials must come from onboarding-{service}-user-credentials")
    if f"onboarding-{service}" not in by_kind.get("User", {}):
        problems.append(f"User/onboarding-{service}: missing")
    problems += _configmaps(service, pod, container, by_kind, contract, rendered, overlay)
    problems += _identity(service, pod, labels, by_kind, overlay)
    problems += _scaling(service, dep, by_kind, contract)
    return problems


def _configmaps(service, pod, container, by_kind, contract, rendered, overlay) -> list[str]:
    if not rendered:
        return []
    problems, maps = [], by_kind.get("ConfigMap", {})
    for source in container.get("envFrom", []):
        cm = maps.get(source.get("configMapRef", {}).get("name"))
        if cm is None:
            problems.append(f"Deployment/{service}: envFrom ConfigMap {source} not in the render")
            continue
        for name in cm.get("data", {}):
            if (p := contract_mod.env_key_problem(contract, name)):
                problems.append(f"ConfigMap/{cm['metadata']['name']}: {p}")
    for volume in pod.get("volumes", []):
        name = volume.get("configMap", {}).get("name")
        if name is None or name not in maps:
            continue  # created out of band (dev: graph-emulator-ca)
        for file, text in maps[name].get("data", {}).items():
            if file.endswith(".toml"):
                doc = tomllib.loads(text)
                problems += [f"ConfigMap/{name} {file}: {p}" for p in contract_mod.toml_key_problems(contract, doc)]
                problems += _client_id_agrees(service, doc, by_kind, overlay)
    return problems


def _client_id_agrees(service, doc, by_kind, overlay) -> list[str]:
    if overlay == "overlays/dev":
        return []  # dev takes the emulator's client ids from a Secret
    sa = by_kind.get("ServiceAccount", {}).get(service, {})
    annotated = sa.get("metadata", {}).get("annotations", {}).get(AZURE_CLIENT_ID)
    configured = doc.get("graph", {}).get("client_id")
    if configured and configured != annotated:
        return [f"{service}: graph.client_id {configured} != ServiceAccount {AZURE_CLIENT_ID} {annotated}"]
    return []


def _identity(service, pod, labels, by_kind, overlay) -> list[str]:
    problems = _tenant_agrees(service, by_kind, overlay)
    if pod.get("serviceAccountName") != service:
        problems.append(f"Deployment/{service}: serviceAccountName must be {service} (one identity per service)")
    sa = by_kind.get("ServiceAccount", {}).get(service)
    if sa is None or AZURE_CLIENT_ID not in sa["metadata"].get("annotations", {}):
        problems.append(f"ServiceAccount/{service}: needs annotation {AZURE_CLIENT_ID}")
    if overlay != "overlays/dev" and labels.get("azure.workload.identity/use") != "true":
        problems.append(f"Deployment/{service}: pod label azure.workload.identity/use must be \"true\"")
    pdb = by_kind.get("PodDisruptionBudget", {}).get(service)
    if pdb is None or pdb["spec"].get("selector", {}).get("matchLabels", {}).items() - labels.items():
        problems.append(f"PodDisruptionBudget/{service}: missing or does not select the pods")
    return problems


def _tenant_agrees(service, by_kind, overlay) -> list[str]:
    if overlay == "overlays/dev":
        return []
    sa = by_kind.get("ServiceAccount", {}).get(service, {})
    annotated = sa.get("metadata", {}).get("annotations", {}).get("azure.workload.identity/tenant-id")
    configured = {cm["data"].get("ONBOARDING__GRAPH__TENANT_ID") for cm in by_kind.get("ConfigMap", {}).values()
                  if "ONBOARDING__GRAPH__TENANT_ID" in cm.get("data", {})}
    if annotated and configured and configured != {annotated}:
        return [f"ServiceAccount/{service}: tenant-id {annotated} != ONBOARDING__GRAPH__TENANT_ID {sorted(configured)}"]
    return []


def _scaling(service, dep, by_kind, contract) -> list[str]:
    problems = []
    so = by_kind.get("ScaledObject", {}).get(service)
    if so is None:
        return [f"ScaledObject/{service}: missing"]
    if so["spec"]["scaleTargetRef"]["name"] != service:
        problems.append(f"ScaledObject/{service}: must target Deployment {service}")
    namespace = dep["metadata"].get("namespace")
    for trigger in so["spec"]["triggers"]:
        meta = trigger.get("metadata", {})
        if trigger["type"] != "rabbitmq" or meta.get("mode") != "QueueLength" or "value" not in meta:
            problems.append(f"ScaledObject/{service}: trigger must be rabbitmq, mode QueueLength, with a value")
        if meta.get("queueName") != contract.work_queue(service):
            problems.append(f"ScaledObject/{service}: queueName {meta.get('queueName')} != {contract.work_queue(service)}")
        host = meta.get("host", "")
        if "@" in host:
            problems.append(f"ScaledObject/{service}: credentials in host; use the TriggerAuthentication")
        if namespace and f".{namespace}.svc" not in host:
            problems.append(f"ScaledObject/{service}: host {host} is not in namespace {namespace}")
        auth = trigger.get("authenticationRef", {}).get("name")
        ta = by_kind.get("TriggerAuthentication", {}).get(auth)
        if ta is None:
            problems.append(f"ScaledObject/{service}: TriggerAuthentication {auth} missing")
            continue
        for ref in ta["spec"].get("secretTargetRef", []):
            user = ref["name"].removesuffix("-user-credentials")
            if user not in by_kind.get("User", {}):
                problems.append(f"TriggerAuthentication/{auth}: Secret {ref['name']} belongs to no User")
    return problems
