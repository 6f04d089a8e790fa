"""``make evaluate``: the backtest of the default pack on the public CDNOW sample, and on the
CDNOW master file's customers outside the sample.

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

Then the same for a second part, **the CDNOW master's customers outside the sample**:
``CDNOW_master.txt`` (shipped beside the sample) holds all 23,570 customers of the cohort, and the
sample's first column is a customer's master id (checked on every run: each sample customer has
exactly its lines under that id in the master file). The master customers whose id is not in the
sample were never read by any choice made on this project: an untouched held-out set. Same event
conversion, cut-offs, horizon and label rule; the models (the pack's Pareto/NBD, MBG/NBD, and the
BG/NBD and Pareto/NBD baselines) are fitted on *that part's own* orders before each cut-off; no
70/30 split inside it (all of it is held out); the same paired bootstrap.

Writes ``bench/results/evaluate.md`` (the tables), ``evaluate.json``, ``evaluate.png`` (the
sample) and ``evaluate-master.png`` (the master part), and prints the summary. The same steps
from the command line are printed too.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
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
from agents.cdnow import cdnow_events, events_from_rows, master_path, outside_sample, read_rows, sample_path
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
SAMPLE, MASTER = "sample", "master-outside-sample"  # a result document's ``part``


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


def _write(path: Path, events: Iterable[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        for event in events:
            fh.write(orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE))
    return path


def _events() -> Path:
    return _write(WORK / "cdnow.jsonl", cdnow_events(sample_path()))


def master_events(master: Path, sample: Path, work: Path = WORK) -> tuple[Path, dict[str, Any]]:
    """The master file's customers outside the sample as events (the sample's conversion), and
    what was read: customers and lines of each file, and of the part kept."""
    everyone, picked = read_rows(master), read_rows(sample)
    kept = outside_sample(master, sample)  # raises unless every sample id has its lines in the master
    path = _write(work / "cdnow-master-outside.jsonl", events_from_rows(kept))
    info = {
        "master_customers": len(everyone),
        "master_lines": sum(map(len, everyone.values())),
        "sample_customers": len(picked),
        "sample_customers_checked_in_master": len(picked),  # each under its id, with the same lines
        "customers": len(kept),
        "lines": sum(map(len, kept.values())),
        "orders": sum(len({day for day, _, _ in rows}) for rows in kept.values()),
    }
    return path, info


def _one(
    events_file: Path, cutoff: str, part: str = SAMPLE, work: Path = WORK
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One part at one cut-off: fit, backtest, bootstrap; the sample split 70/30, the master part whole."""
    started = time.perf_counter()
    events = read_events([events_file], Limits(), [])
    at = parse_date(cutoff)
    found = list(histories(events, at).values())
    model, mbg = fit(found, MODEL_KIND), fit(found, "mbgnbd")
    stem = "model" if part == SAMPLE else "model-master"
    (work / f"{stem}-{cutoff}.yaml").write_text(dump_model(model, {"until": format_ts(at)}))
    (work / f"{stem}-{cutoff}-mbgnbd.yaml").write_text(dump_model(mbg, {"until": format_ts(at)}))
    fitted = time.perf_counter()
    pack = load_pack()
    variants = [
        Variant("default+model", pack, model),
        Variant("default", pack, None),
        Variant("default+mbgnbd", pack, mbg),
    ]
    holdout = HOLDOUT if part == SAMPLE else 0.0
    options = Options([at], HORIZON_DAYS * DAY, ("recency", "bgnbd", "paretonbd"), holdout)
    result = backtest(events, variants, options, EngineConfig())
    tested = time.perf_counter()
    result.doc["part"] = part
    result.doc["events"] = len(events)
    result.doc["model"] = {
        m.kind: {"r": m.r, "alpha": m.alpha, "a_or_s": m.a, "b_or_beta": m.b, "log_likelihood": m.log_likelihood}
        for m in (model, mbg)
    }
    _paired(result.doc, result.scores)
    done = time.perf_counter()
    result.doc["seconds"] = {
        "read_and_fit": round(fitted - started, 1),
        "backtest": round(tested - fitted, 1),
        "bootstrap": round(done - tested, 1),
        "total": round(done - started, 1),
    }
    sys.stderr.write(f"evaluate: {part} at {cutoff}: {result.doc['seconds']}\n")
    return result.doc, result.curves


def _who(doc: dict[str, Any], entry: dict[str, Any]) -> str:
    """The table's customers cell: the sample's subset, or the master part."""
    if doc.get("part") == MASTER:
        return f"master outside the sample ({entry['customers']})"
    return f"{entry['subset']} ({entry['customers']})"


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
            lines.append(f"| {entry['cutoff'][:10]} | {_who(doc, entry)} | {cells} |")
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
                f"| {entry['cutoff'][:10]} | {_who(doc, entry)} | "
                f"{100 * entry['base_rate']:.1f}% | {aucs} | {paired} | {top} | {lead} |"
            )
    return "\n".join(lines)


def _title(doc: dict[str, Any], entry: dict[str, Any]) -> str:
    text = title(entry, doc["horizon_days"])
    return f"CDNOW master outside the sample: {text}" if doc.get("part") == MASTER else f"CDNOW sample: {text}"


def report(docs: list[dict[str, Any]]) -> str:
    """``evaluate.md``: the summary, the bootstrap table, then every part's full table."""
    parts = ["# `make evaluate`: the default pack on the CDNOW sample and the CDNOW master outside it", ""]
    for doc in docs:
        if doc.get("part") == MASTER and "data" in doc:
            d = doc["data"]
            parts += [
                f"CDNOW master outside the sample: {d['master_customers']} customers in `CDNOW_master.txt`, "
                f"{d['sample_customers']} of them in the sample (each found under its sample id with the same "
                f"lines), {d['customers']} outside it ({d['lines']} lines, {d['orders']} orders); "
                "models fitted on this part's own orders before each cut-off; no split inside it.",
                "",
            ]
            break
    parts += [summary(docs)]
    parts += ["", f"Paired bootstrap of AUC differences ({BOOTSTRAP} resamples of each part's customers):", ""]
    parts += [paired_table(docs)]
    parts += ["", "Run time (seconds, this machine):", "", "| part | cut-off | read and fit | backtest | bootstrap |"]
    parts += ["|---|---|---:|---:|---:|"]
    for doc in docs:
        t = doc["seconds"]
        when = doc["results"][0]["cutoff"][:10]
        parts += [f"| {doc['part']} | {when} | {t['read_and_fit']} | {t['backtest']} | {t['bootstrap']} |"]
    for doc in docs:
        for entry in doc["results"]:
            parts += ["", f"## {_title(doc, entry)}", "", markdown_table(entry)]
        for change in doc["tier_changes"]:
            moves = ", ".join(f"{k}: {v}" for k, v in change["moves"].items())
            when = change["cutoff"][:10]
            where = "CDNOW master outside the sample" if doc.get("part") == MASTER else "CDNOW sample"
            parts += ["", f"{where}: tier changes default+model -> default at {when}: {change['changed']} ({moves})"]
    return "\n".join(parts) + "\n"


def main() -> None:
    started = time.perf_counter()
    events_file = _events()
    master_file, data = master_events(master_path(), sample_path())
    sys.stderr.write(
        f"evaluate: CDNOW master {data['master_customers']} customers, sample {data['sample_customers']} "
        f"(all found in the master with the same lines), outside the sample {data['customers']}\n"
    )
    docs, curves, master_curves = [], {}, {}
    for cutoff in CUTOFFS:
        sys.stderr.write(f"evaluate: cut-off {cutoff}\n")
        doc, curve = _one(events_file, cutoff)
        docs.append(doc)
        curves.update(curve)
        doc, curve = _one(master_file, cutoff, MASTER)
        doc["data"] = data
        docs.append(doc)
        master_curves.update(curve)
    RESULTS.mkdir(parents=True, exist_ok=True)
    plot(curves, RESULTS / "evaluate.png", "churnwatch backtest on the CDNOW sample, horizon 273 days")
    plot(
        master_curves,
        RESULTS / "evaluate-master.png",
        f"churnwatch backtest on the CDNOW master's {data['customers']} customers outside the sample, horizon 273 days",
    )
    (RESULTS / "evaluate.json").write_bytes(orjson.dumps(docs, option=orjson.OPT_INDENT_2))
    (RESULTS / "evaluate.md").write_text(report(docs))
    print(summary(docs))
    print(f"\nrun time: {time.perf_counter() - started:.0f} s")
    print(
        "\nthe same from the command line, per cut-off:\n"
        "  churnwatch fit .cache/evaluate/cdnow.jsonl --until 1997-09-30 --kind paretonbd --out model.yaml\n"
        "  churnwatch backtest .cache/evaluate/cdnow.jsonl --model model.yaml --also-without-model "
        "--cutoff 1997-09-30 --horizon 273 --baseline recency --baseline bgnbd --baseline paretonbd "
        "--holdout 0.3 --plot out.png\n"
        "and for the master part, the same on .cache/evaluate/cdnow-master-outside.jsonl (its own fit), "
        "without --holdout"
    )


if __name__ == "__main__":
    main()
