"""The buying-model file (``churnwatch fit --out``; ``--model`` / ``CHURNWATCH_MODEL``): YAML.

::

    version: 1
    kind: mbgnbd            # or paretonbd, or bgnbd (plain BG/NBD, kept for comparison)
    time_unit: day          # every parameter is per day
    params: {r: 0.53, alpha: 42.7, a: 0.91, b: 1.58}   # paretonbd: {r, alpha, s, beta}
    fit: {customers: 2357, log_likelihood: -14283.1, until: "1997-09-30T00:00:00Z"}   # for people
    visits: {kind: mbgnbd, params: {...}, fit: {...}}   # optional: the same model of successful logins

Reading checks every field and raises :class:`ModelError` naming the file and what is wrong.
"""

from __future__ import annotations

import io
import math
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from rules.model import KINDS, BuyingModel

MODEL_VERSION = 1
PARAMS = ("r", "alpha", "a", "b")
# the file's names of the four fields, per kind (Pareto/NBD's s and β live in the fields a and b)
FILE_PARAMS = {"paretonbd": ("r", "alpha", "s", "beta")}


def _names(kind: str) -> tuple[str, ...]:
    return FILE_PARAMS.get(kind, PARAMS)


class ModelError(ValueError):
    """A model file that cannot be used."""


def _part(model: BuyingModel, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "kind": model.kind,
        "params": {
            name: float(f"{getattr(model, field):.10g}") for name, field in zip(_names(model.kind), PARAMS, strict=True)
        },
        "fit": {"customers": model.customers, "log_likelihood": round(model.log_likelihood or 0.0, 4)} | (extra or {}),
    }


def dump_model(model: BuyingModel, extra: dict[str, Any] | None = None) -> str:
    part = _part(model, extra)
    doc = {"version": MODEL_VERSION, "kind": part["kind"], "time_unit": "day", "params": part["params"]}
    doc["fit"] = part["fit"]
    if model.visits is not None:
        doc["visits"] = _part(model.visits)
    out = io.StringIO()
    out.write("# churnwatch buying model, written by `churnwatch fit` (README: the model file)\n")
    yaml = YAML(typ="rt")
    yaml.default_flow_style = False
    yaml.dump(doc, out)
    return out.getvalue()


def _parse_part(doc: dict[str, Any], where: str) -> BuyingModel:
    """kind, params and fit of the orders model (the top level) or of ``visits``."""
    if doc.get("kind") not in KINDS:
        raise ModelError(f"{where}kind must be one of {', '.join(KINDS)}, got {doc.get('kind')!r}")
    params = doc.get("params")
    names = _names(str(doc["kind"]))
    if not isinstance(params, dict):
        raise ModelError(f"{where}missing 'params' ({', '.join(names)})")
    values: dict[str, float] = {}
    for name, field in zip(names, PARAMS, strict=True):
        value = params.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
            raise ModelError(f"{where}params.{name} must be a positive number, got {value!r}")
        values[field] = float(value)
    raw_fit = doc.get("fit")
    fitted: dict[str, Any] = raw_fit if isinstance(raw_fit, dict) else {}
    ll = fitted.get("log_likelihood")
    return BuyingModel(
        str(doc["kind"]),
        values["r"],
        values["alpha"],
        values["a"],
        values["b"],
        log_likelihood=float(ll) if isinstance(ll, int | float) else None,
        customers=int(fitted.get("customers", 0) or 0),
    )


def parse_model(text: str, file: str = "<memory>") -> BuyingModel:
    try:
        doc = YAML(typ="safe", pure=True).load(text)
    except YAMLError as exc:
        raise ModelError(f"{file}: not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(doc, dict):
        raise ModelError(f"{file}: a model file is a mapping with version, kind, time_unit and params")
    if doc.get("version") != MODEL_VERSION:
        raise ModelError(f"{file}: unsupported version {doc.get('version')!r} (expected {MODEL_VERSION})")
    if doc.get("time_unit", "day") != "day":
        raise ModelError(f"{file}: time_unit must be 'day', got {doc.get('time_unit')!r}")
    model = _parse_part(doc, f"{file}: ")
    visits = doc.get("visits")
    if visits is None:
        return model
    if not isinstance(visits, dict):
        raise ModelError(f"{file}: 'visits' must be a mapping with kind and params")
    return replace(model, visits=_parse_part(visits, f"{file}: visits."))


def load_model(path: str | Path) -> BuyingModel:
    """Read and check a model file; raises :class:`ModelError`."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path}: cannot read the model file: {exc}") from None
    return parse_model(text, str(path))


@lru_cache(maxsize=4)
def cached_model(path: Path) -> BuyingModel:
    """The worker's model, read once per process (every partition's engine shares it)."""
    return load_model(path)
