"""Standalone Kubernetes JSON schemas for kubeconform, generated offline from kubernetes-validate's.

The PyPI package ``kubernetes-validate`` ships the Kubernetes OpenAPI schemas as JSON Schema, one
file per kind, whose ``$ref`` s point at a shared ``/api/_definitions.json`` under an https ``$id``:
kubeconform would try to fetch that. This writes, for every top-level kind of one Kubernetes
version, a standalone strict schema (``additionalProperties: false``) that carries the definitions
it needs in its own ``$defs``, in kubeconform's layout::

    OUT/v1.34.0-standalone-strict/statefulset-apps-v1.json

    python deploy/tools/k8s_schemas.py 1.34.0 .cache/k8s-schemas    # prints the folder

Nothing is fetched: the schemas come from the installed package. Re-running is a no-op once
the folder holds a stamp of the package version.
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import kubernetes_validate

REF_PREFIX = "/api/_definitions.json#/$defs/"


def _refs(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            out.add(ref.rsplit("/", 1)[-1])
        for value in node.values():
            _refs(value, out)
    elif isinstance(node, list):
        for value in node:
            _refs(value, out)


def _rewrite(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: (
                "#/$defs/" + v[len(REF_PREFIX) :]
                if k == "$ref" and isinstance(v, str) and v.startswith(REF_PREFIX)
                else _rewrite(v)
            )
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rewrite(v) for v in node]
    return node


def generate(kube_version: str, out: Path) -> Path:
    """Write the standalone strict schemas of ``kube_version`` (e.g. ``1.34.0``) under ``out``."""
    source = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / f"v{kube_version}-local-strict"
    if not source.is_dir():
        raise SystemExit(f"kubernetes-validate has no schemas for Kubernetes {kube_version}")
    target = out / f"v{kube_version}-standalone-strict"
    stamp = target / ".generated-from"
    want = f"kubernetes-validate {package_version('kubernetes-validate')}"
    if stamp.is_file() and stamp.read_text() == want:
        return target
    target.mkdir(parents=True, exist_ok=True)
    definitions: dict[str, Any] = json.loads((source / "_definitions.json").read_text())["$defs"]
    for path in sorted(source.glob("*.json")):
        schema = json.loads(path.read_text())
        if "x-kubernetes-group-version-kind" not in schema:
            continue  # a sub-object, not a kind a manifest can have
        needed: set[str] = set()
        todo: set[str] = set()
        _refs(schema, todo)
        while todo:
            name = todo.pop()
            if name in needed:
                continue
            needed.add(name)
            found: set[str] = set()
            _refs(definitions[name], found)
            todo |= found - needed
        standalone = _rewrite({k: v for k, v in schema.items() if k != "$id"})
        standalone["$defs"] = {name: definitions[name] for name in sorted(needed)}
        (target / path.name).write_text(json.dumps(standalone, separators=(",", ":")))
    stamp.write_text(want)
    return target


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: python deploy/tools/k8s_schemas.py KUBERNETES_VERSION OUT_DIR")
    print(generate(sys.argv[1], Path(sys.argv[2])))
