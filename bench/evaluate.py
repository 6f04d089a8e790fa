"""``make evaluate``: the backtest of the default pack on the public CDNOW sample.

For each cut-off (1997-09-30, the issue's, and 1997-06-30), with a 39-week (273-day) horizon:

1. ``churnwatch fit --kind paretonbd`` on the orders before the cut-off (Pareto/NBD, all
   customers: fitting uses no label, so it is something a shop can do on the day) ->
   ``.cache/evaluate/model-<date>.yaml``, and the same with MBG/NBD (``fit``'s default);
2. ``churnwatch backtest`` of the default pack with the Pareto/NBD model, without a model, and
   with the MBG/NBD model, beside plain recency and the expected orders within the horizon of
   plain BG/NBD and of Pareto/NBD alone (fitted in the same run), the customers split 70/30 by a
   hash of their id: the 30% held-out part was kept out of every choice (the pack's rules, the
   model kind) and is reported apart;
3. for each part, a paired bootstrap of the AUC differences that the goals are about (pack +
   model − BG/NBD, pack − recency): the customers of the part resampled with replacement
   ``BOOTSTRAP`` times, every ranker scored on the same resample; the 95% interval is the 2.5th
   to 97.5th percentile of the differences.

Writes ``bench/results/evaluate.md`` (the tables), ``evaluate.json`` and ``evaluate.png``, and
prints the summary. The same steps from the command line are printed too.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray
from scipy.stats import rankdata

from agents.backtest import Variant, in_holdout
from agents.backtest_plot import plot
from agents.backtest_report import markdown_table, title
from agents.backtest_run import Options, backtest
from agents.cdnow import cdnow_events, sample_path
from agents.cli_util import parse_date
from agents.model_file import dump_model
from agents.pack_file import load_pack
from agents.replay import read_events
from rules.engine import EngineConfig
from rules.fit import fit, histories
from rules.state import DAY
from streams.parse import Limits
from streams.timefmt import format_ts

CUTOFFS = ("1997-09-30", "1997-06-30")
HORIZON_DAYS = 273.0  # 39 weeks
HOLDOUT = 0.3
MODEL_KIND = "paretonbd"  # the pack's model (README: chosen on the tuning part); MBG/NBD shown beside it
WORK = Path(".cache/evaluate")
RESULTS = Path("bench/results")
BOOTSTRAP = 2000
GOAL_PAIRS = (("default+model", "bgnbd"), ("default", "recency"))  # the goals: AUC of the first − the second
# and, for reading them: does the model kind matter in the pack, and Pareto/NBD alone against BG/NBD
PAIRS = (*GOAL_PAIRS, ("default+model", "default+mbgnbd"), ("paretonbd", "bgnbd"))


def _auc(scores: NDArray[np.float64], labels: NDArray[np.bool_]) -> float:
    """ROC AUC by mid-ranks (ties count half, as rules.metrics.roc_auc)."""
    ranks = rankdata(scores)
    churners = int(labels.sum())
    stayers = len(labels) - churners
    return float((ranks[labels].sum() - churners * (churners + 1) / 2) / (churners * stayers))


def paired_bootstrap(
    a: NDArray[np.float64], b: NDArray[np.float64], labels: NDArray[np.bool_], rounds: int, seed: int
) -> dict[str, Any]:
    """AUC(a) − AUC(b) on these customers, and its spread over resamples of them (the same
    resample for both rankers): standard deviation and the 95% percentile interval."""
    rng = np.random.default_rng(seed)
    diffs: list[float] = []
    n = len(labels)
    while len(diffs) < rounds:
        pick = rng.integers(0, n, n)
        y = labels[pick]
        if y.all() or not y.any():
            continue
        diffs.append(_auc(a[pick], y) - _auc(b[pick], y))
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    return {
        "diff": round(_auc(a, labels) - _auc(b, labels), 4),
        "sd": round(float(np.std(diffs)), 4),
        "ci95": [round(float(lo), 4), round(float(hi), 4)],
        "rounds": rounds,
    }


def _paired(doc: dict[str, Any], scores: dict[str, tuple[dict[str, dict[str, float]], dict[str, bool]]]) -> None:
    """Each result entry gets ``paired``: the bootstrap of each pair of ``PAIRS`` on its customers."""
    for entry in doc["results"]:
        rankers, labels = scores[entry["cutoff"]]
        members = sorted(labels)
        if entry["subset"] != "all":
            members = [c for c in members if in_holdout(c, HOLDOUT) == (entry["subset"] == "held-out")]
        y = np.array([labels[c] for c in members])
        entry["paired"] = {}
        for k, (first, second) in enumerate(PAIRS):
            a = np.array([rankers[first].get(c, -np.inf) for c in members])
            b = np.array([rankers[second].get(c, -np.inf) for c in members])
            entry["paired"][f"{first} - {second}"] = paired_bootstrap(a, b, y, BOOTSTRAP, seed=k)


def _events() -> Path:
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / "cdnow.jsonl"
    with path.open("wb") as fh:
        for event in cdnow_events(sample_path()):
            fh.write(orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE))
    return path


def _one(events_file: Path, cutoff: str) -> tuple[dict[str, Any], dict[str, Any]]:
    events = read_events([events_file], Limits(), [])
    at = parse_date(cutoff)
    found = list(histories(events, at).values())
    model, mbg = fit(found, MODEL_KIND), fit(found, "mbgnbd")
    (WORK / f"model-{cutoff}.yaml").write_text(dump_model(model, {"until": format_ts(at)}))
    (WORK / f"model-{cutoff}-mbgnbd.yaml").write_text(dump_model(mbg, {"until": format_ts(at)}))
    pack = load_pack()
    variants = [
        Variant("default+model", pack, model),
        Variant("default", pack, None),
        Variant("default+mbgnbd", pack, mbg),
    ]
    options = Options([at], HORIZON_DAYS * DAY, ("recency", "bgnbd", "paretonbd"), HOLDOUT)
    result = backtest(events, variants, options, EngineConfig())
    result.doc["model"] = {
        m.kind: {"r": m.r, "alpha": m.alpha, "a_or_s": m.a, "b_or_beta": m.b, "log_likelihood": m.log_likelihood}
        for m in (model, mbg)
    }
    _paired(result.doc, result.scores)
    return result.doc, result.curves


def _ci(p: dict[str, Any]) -> str:
    return f"{p['diff']:+.4f} [{p['ci95'][0]:+.4f}, {p['ci95'][1]:+.4f}]"


def paired_table(docs: list[dict[str, Any]]) -> str:
    """Every bootstrapped difference: cut-off and part by pair."""
    lines = [
        "| cut-off | customers | " + " | ".join(f"{a} − {b} [95% CI]" for a, b in PAIRS) + " |",
        "|---|---|" + "---:|" * len(PAIRS),
    ]
    for doc in docs:
        for entry in doc["results"]:
            cells = " | ".join(_ci(entry["paired"][f"{a} - {b}"]) for a, b in PAIRS)
            lines.append(f"| {entry['cutoff'][:10]} | {entry['subset']} ({entry['customers']}) | {cells} |")
    return "\n".join(lines)


def summary(docs: list[dict[str, Any]]) -> str:
    names = ("default+model", "default", "recency", "bgnbd", "paretonbd")
    lines = [
        "| cut-off | customers | churned | AUC default pack + model | AUC default pack | AUC recency | AUC BG/NBD "
        "| AUC Pareto/NBD alone "
        "| pack + model − BG/NBD [95% CI] | pack − recency [95% CI] "
        "| top-10% precision (pack + model / pack) | lead time, median days (pack + model / pack) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for doc in docs:
        for entry in doc["results"]:
            r = entry["rankers"]
            aucs = " | ".join(f"{r[n]['auc']:.4f}" for n in names)
            top = " / ".join(f"{100 * r[n]['top_10pct']['precision']:.1f}%" for n in names[:2])
            lead = " / ".join(f"{r[n]['lead_time_days']['median']:g}" for n in names[:2])
            paired = " | ".join(_ci(entry["paired"][f"{a} - {b}"]) for a, b in GOAL_PAIRS)
            lines.append(
                f"| {entry['cutoff'][:10]} | {entry['subset']} ({entry['customers']}) | "
                f"{100 * entry['base_rate']:.1f}% | {aucs} | {paired} | {top} | {lead} |"
            )
    return "\n".join(lines)


def main() -> None:
    events_file = _events()
    docs, curves = [], {}
    for cutoff in CUTOFFS:
        sys.stderr.write(f"evaluate: cut-off {cutoff}\n")
        doc, curve = _one(events_file, cutoff)
        docs.append(doc)
        curves.update(curve)
    RESULTS.mkdir(parents=True, exist_ok=True)
    plot(curves, RESULTS / "evaluate.png", "churnwatch backtest on the CDNOW sample, horizon 273 days")
    (RESULTS / "evaluate.json").write_bytes(orjson.dumps(docs, option=orjson.OPT_INDENT_2))
    parts = ["# `make evaluate`: the default pack on the CDNOW sample", "", summary(docs)]
    parts += ["", f"Paired bootstrap of AUC differences ({BOOTSTRAP} resamples of each part's customers):", ""]
    parts += [paired_table(docs)]
    for doc in docs:
        for entry in doc["results"]:
            parts += ["", f"## {title(entry, doc['horizon_days'])}", "", markdown_table(entry)]
        for change in doc["tier_changes"]:
            moves = ", ".join(f"{k}: {v}" for k, v in change["moves"].items())
            when = change["cutoff"][:10]
            parts += ["", f"Tier changes default+model -> default at {when}: {change['changed']} ({moves})"]
    (RESULTS / "evaluate.md").write_text("\n".join(parts) + "\n")
    print(summary(docs))
    print(
        "\nthe same from the command line, per cut-off:\n"
        "  churnwatch fit .cache/evaluate/cdnow.jsonl --until 1997-09-30 --kind paretonbd --out model.yaml\n"
        "  churnwatch backtest .cache/evaluate/cdnow.jsonl --model model.yaml --also-without-model "
        "--cutoff 1997-09-30 --horizon 273 --baseline recency --baseline bgnbd --baseline paretonbd "
        "--holdout 0.3 --plot out.png"
    )


if __name__ == "__main__":
    main()
