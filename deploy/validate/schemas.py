"""JSON Schema validators for Kubernetes objects: core kinds from the kubernetes-validate
package's strict schemas, custom resources from the CRDs vendored in deploy/schemas/crds.

Strict means an unknown field is an error, as `kubectl apply --validate=strict` would say.
Not for semantic checks (names that must agree across objects): that is k8s.py.
"""
from __future__ import annotations

import copy
import json
from functools import lru_cache
from importlib import resources
from pathlib import Path

import jsonschema
import yaml
from referencing import Registry, Resource

KUBERNETES_VERSION = "1.32.0"
_DEFS_ID = "https://kubernetes.io/api/_definitions.json"
_OBJECT_META = {"$ref": f"{_DEFS_ID}#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}


class SchemaSet:
    def __init__(self, crd_dir: Path):
        self._core_dir = resources.files("kubernetes_validate").joinpath(
            "kubernetes-json-schema", f"v{KUBERNETES_VERSION}-local-strict")
        defs = json.loads(self._core_dir.joinpath("_definitions.json").read_text())
        self._registry = Resource.from_contents(defs) @ Registry()
        self._crds = _load_crds(crd_dir)
        self._validators: dict[tuple[str, str], jsonschema.Draft202012Validator | None] = {}

    def errors(self, obj: dict) -> list[str]:
        """Schema violations of one object, each as 'path: message'; unknown kinds are errors."""
        key = (obj.get("apiVersion", ""), obj.get("kind", ""))
        if key not in self._validators:
            self._validators[key] = self._validator_for(*key)
        validator = self._validators[key]
        if validator is None:
            return [f"no schema for {key[1]} {key[0]} (not a Kubernetes {KUBERNETES_VERSION} kind "
                    f"nor a vendored CRD)"]
        return [f"{'.'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
                for e in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.path)))]

    def crd_spec_fields(self, api_version: str, kind: str) -> set[str]:
        """The spec fields a vendored CRD defines for this kind (empty for core kinds)."""
        schema = self._crds.get((api_version, kind), {})
        return set(schema.get("properties", {}).get("spec", {}).get("properties", {}))

    def _validator_for(self, api_version: str, kind: str):
        if (api_version, kind) in self._crds:
            schema = self._crds[(api_version, kind)]
        else:
            group_version = api_version.split("/")
            group = group_version[0].split(".")[0] if len(group_version) == 2 else ""
            name = f"{kind.lower()}-{group + '-' if group else ''}{group_version[-1]}.json"
            path = self._core_dir.joinpath(name)
            if not path.is_file():
                return None
            schema = json.loads(path.read_text())
        registry = Resource.from_contents(schema) @ self._registry
        return jsonschema.Draft202012Validator(schema, registry=registry)


def _load_crds(crd_dir: Path) -> dict[tuple[str, str], dict]:
    found = {}
    for path in sorted(crd_dir.glob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            spec = crd["spec"]
            for version in spec["versions"]:
                schema = _strict(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
                schema.setdefault("properties", {})["metadata"] = _OBJECT_META
                schema["properties"]["apiVersion"] = {"const": f"{spec['group']}/{version['name']}"}
                schema["properties"]["kind"] = {"const": spec["names"]["kind"]}
                schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind", "metadata"})
                schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
                schema["$id"] = f"urn:crd:{spec['group']}:{version['name']}:{spec['names']['kind']}"
                found[(f"{spec['group']}/{version['name']}", spec["names"]["kind"])] = schema
    return found


def _strict(node):
    """OpenAPI v3 structural schema -> JSON Schema that rejects fields the CRD does not know."""
    if isinstance(node, list):
        return [_strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: _strict(v) for k, v in node.items()}
    if node.pop("nullable", False) and "type" in node:
        node["type"] = [node["type"], "null"]
    if node.pop("x-kubernetes-int-or-string", False):
        node.pop("type", None)
        node.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    preserve = node.get("x-kubernetes-preserve-unknown-fields", False)
    if "properties" in node and "additionalProperties" not in node and not preserve:
        node["additionalProperties"] = False
    return node


@lru_cache(maxsize=1)
def compose_schema() -> dict:
    """The compose-spec JSON schema as vendored by check-jsonschema."""
    path = resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json")
    return json.loads(path.read_text())
