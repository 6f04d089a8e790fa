"""``python -m bench``: run the benchmarks, render results, set up the peers.

    python -m bench run --size small            # < 1 minute; `--size full` < 10 minutes
    python -m bench run --size full --only replay,memory
    python -m bench render bench/results/latest.json     # Markdown table on stdout
    python -m bench setup-peers                  # the separate virtualenv for Quix Streams

``run`` prints the table and writes ``bench/results/<stem>.json`` and ``<stem>.md``. The live
part needs the local broker (``deploy/local``); without it those rows say "skipped".
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench.machine import machine_info
from bench.results import RESULTS_DIR, build_rows, render_markdown, render_text, rows_to_dicts, write_report
from bench.sizes import SIZES, get_size, size_to_dict

PARTS = ("replay", "memory", "live", "scale", "scale-worker")


def _log(msg: str) -> None:
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stderr.flush()


def run(args: argparse.Namespace) -> dict[str, Any]:
    size = get_size(args.size)
    parts = set(args.only.split(",")) if args.only else set(PARTS)
    unknown = parts - set(PARTS)
    if unknown:
        raise SystemExit(f"unknown part(s) {sorted(unknown)}; choose from {', '.join(PARTS)}")
    run_id = secrets.token_hex(4)
    started = time.time()
    measurements: dict[str, Any] = {}
    notes: list[str] = []
    profile_dir = None if args.no_profile else Path(args.out_dir)
    workdir = Path(tempfile.mkdtemp(prefix=f"churnwatch-bench-{run_id}-"))
    try:
        if "replay" in parts:
            from bench.replay import measure_replay

            sim = f"{size.replay_customers:,} customers, {size.replay_days} days"
            _log(f"replay: {sim}, at most {size.replay_max_events:,} events")
            measurements["replay"] = measure_replay(size, workdir, profile_dir)
        if "memory" in parts:
            from bench.replay import measure_memory

            counts = ", ".join(f"{n:,}" for n in size.memory_customers)
            _log(f"memory per customer at {counts} customers; tick at {size.tick_customers:,}")
            measurements["memory"], measurements["tick"] = measure_memory(size)
        if "live" in parts:
            from bench.live import measure_live

            _log(f"live: {size.live_events:,} events on {size.live_partitions} partitions, broker {args.bootstrap}")
            live = measure_live(size, args.bootstrap, workdir, run_id, not args.no_quix, profile_dir)
            for key, value in live.items():
                measurements[key] = value
        if "scale" in parts:
            from bench.scale import measure_scale_replay

            measurements["scale_replay"] = measure_scale_replay(size, workdir, _log)
            if measurements["scale_replay"].get("status") == "ok":
                from bench.scale_chart import draw_scale_chart

                chart = Path(args.out_dir) / f"{args.stem}-scale.png"
                with contextlib.suppress(Exception):
                    draw_scale_chart(measurements["scale_replay"], chart)
                    _log(f"wrote {chart}")
        if "scale-worker" in parts:
            from bench.scale import measure_scale_worker

            measurements["scale_worker"] = measure_scale_worker(size, args.bootstrap, workdir, _log)
    finally:
        if args.keep:
            _log(f"work files kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    for name, m in measurements.items():
        if isinstance(m, dict) and m.get("status") not in (None, "ok"):
            notes.append(f"{name}: {m.get('status')}: {m.get('reason', '')}")
    profiles: dict[str, Any] = {}
    for name, key in (("replay engine loop, pure Python core", "replay"), ("live worker (py-spy)", "live_worker")):
        prof = measurements.get(key, {}).get("profile") if isinstance(measurements.get(key), dict) else None
        if isinstance(prof, dict) and prof.get("top_self"):
            profiles[name] = prof
    rows = build_rows(measurements)
    argv = ["python -m bench run", f"--size {size.name}"] + ([f"--only {args.only}"] if args.only else [])
    report: dict[str, Any] = {
        "schema_version": 1,
        "command": " ".join(argv),
        "started_at": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "duration_seconds": time.time() - started,
        "size": size_to_dict(size),
        "machine": machine_info(args.bootstrap if "live" in parts else None),
        "run_id": run_id,
        "measurements": measurements,
        "rows": rows_to_dicts(rows),
        "profiles": profiles,
        "notes": notes,
    }
    print(render_text(rows))
    if notes:
        print()
        for n in notes:
            print(f"note: {n}")
    out_dir = Path(args.out_dir)
    json_path, md_path = write_report(report, out_dir, args.stem)
    _log(f"wrote {json_path} and {md_path} in {report['duration_seconds']:.0f} s")
    return report


def render(args: argparse.Namespace) -> None:
    report = orjson.loads(Path(args.json).read_bytes())
    text = render_markdown(report)
    if args.out:
        Path(args.out).write_text(text)
    else:
        sys.stdout.write(text)


def setup_peers(_: argparse.Namespace) -> None:
    from bench.live import setup_quix_venv

    py = setup_quix_venv()
    print(f"Quix Streams peer ready: {py}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description="churnwatch benchmarks")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run the benchmarks, print the table, write JSON and Markdown")
    r.add_argument("--size", choices=sorted(SIZES), default="small")
    r.add_argument("--only", default="", help=f"comma-separated parts: {', '.join(PARTS)} (default all)")
    r.add_argument("--bootstrap", default=_default_bootstrap(), help="Kafka bootstrap (CHURNWATCH_KAFKA_BOOTSTRAP)")
    r.add_argument("--out-dir", default=str(RESULTS_DIR))
    r.add_argument("--stem", default="latest", help="output file names: <stem>.json and <stem>.md")
    r.add_argument("--no-quix", action="store_true", help="skip the Quix Streams peer")
    r.add_argument("--no-profile", action="store_true", help="no profile even when a goal is missed")
    r.add_argument("--keep", action="store_true", help="keep the work directory (event files, worker logs)")
    d = sub.add_parser("render", help="Markdown table from a results JSON")
    d.add_argument("json", nargs="?", default=str(RESULTS_DIR / "latest.json"))
    d.add_argument("--out", default="", help="write here instead of stdout")
    sub.add_parser("setup-peers", help="create the virtualenv for the Quix Streams peer (.cache/bench-quix)")
    a = p.parse_args(argv)
    if a.cmd == "run":
        run(a)
    elif a.cmd == "render":
        render(a)
    else:
        setup_peers(a)
    return 0


def _default_bootstrap() -> str:
    with contextlib.suppress(Exception):
        from agents.settings import Settings

        return str(Settings().kafka_bootstrap)  # type: ignore[call-arg]
    return "localhost:9092"


if __name__ == "__main__":
    raise SystemExit(main())
