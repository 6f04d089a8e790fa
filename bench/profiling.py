"""Where the time goes: summaries of pyinstrument sessions and py-spy collapsed stacks.

A summary is a list of the functions with the largest share of samples by self time (the time in
the function's own code), each with its inclusive (total) share, so it fits in a table.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

TOP = 15


def _short(path: str) -> str:
    parts = Path(path).parts
    for anchor in ("site-packages", "main", "lib"):
        if anchor in parts:
            idx = len(parts) - 1 - parts[::-1].index(anchor)
            return "/".join(parts[idx + 1 :]) or path
    return "/".join(parts[-2:])


def _table(
    self_t: dict[str, float], total_t: dict[str, float], where: dict[str, str], total: float
) -> list[dict[str, Any]]:
    if total <= 0:
        return []
    ranked = sorted(self_t.items(), key=lambda kv: kv[1], reverse=True)[:TOP]
    return [
        {
            "function": name,
            "where": where.get(name, ""),
            "self_share": t / total,
            "total_share": total_t.get(name, 0.0) / total,
        }
        for name, t in ranked
    ]


def profile_call(fn: Callable[[], object], interval: float = 0.0005) -> tuple[list[dict[str, Any]], str]:
    """Run ``fn`` under pyinstrument; returns (top functions by self time, pyinstrument's text report)."""
    from pyinstrument import Profiler

    profiler = Profiler(interval=interval)
    profiler.start()
    try:
        fn()
    finally:
        profiler.stop()
    session = profiler.last_session
    if session is None:  # pragma: no cover - pyinstrument always sets it after stop()
        return [], ""
    root = session.root_frame()
    self_t: dict[str, float] = defaultdict(float)
    total_t: dict[str, float] = defaultdict(float)
    where: dict[str, str] = {}

    def walk(frame: Any, on_stack: frozenset[str]) -> None:
        name = str(frame.function)
        if frame.file_path:
            where.setdefault(name, f"{_short(str(frame.file_path))}:{frame.line_no}")
        self_t[name] += float(frame.total_self_time)
        if name not in on_stack:
            total_t[name] += float(frame.time)
        for child in frame.children:
            walk(child, on_stack | {name})

    total = float(root.time) if root is not None else 0.0
    if root is not None:
        walk(root, frozenset())
    text = profiler.output_text(unicode=False, color=False, show_all=False)
    return _table(self_t, total_t, where, total), text


def summarize_collapsed(text: str) -> list[dict[str, Any]]:
    """Summarize py-spy ``--format raw`` output (``frame;frame;leaf count`` lines)."""
    self_t: dict[str, float] = defaultdict(float)
    total_t: dict[str, float] = defaultdict(float)
    where: dict[str, str] = {}
    total = 0.0
    for line in text.splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not stack or not count_s.isdigit():
            continue
        count = float(count_s)
        total += count
        seen: set[str] = set()
        frames = [f for f in stack.split(";") if f]
        for i, frame in enumerate(frames):
            # py-spy frames look like "function (path/file.py:line)"
            name, _, loc = frame.partition(" (")
            if loc:
                where.setdefault(name, _short(loc.rstrip(")")))
            if name not in seen:
                total_t[name] += count
                seen.add(name)
            if i == len(frames) - 1:
                self_t[name] += count
    return _table(self_t, total_t, where, total)


def py_spy_record(pid: int, seconds: float, out: Path) -> tuple[list[dict[str, Any]], str | None]:
    """Sample a running process with py-spy (if installed and allowed); returns (summary, error)."""
    exe = shutil.which("py-spy") or str(Path(__file__).resolve().parent.parent / ".venv" / "bin" / "py-spy")
    if not Path(exe).exists():
        return [], "py-spy not installed"
    cmd = [exe, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))), "--rate", "200"]
    cmd += ["--format", "raw", "--output", str(out), "--nonblocking"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [], f"py-spy failed: {exc}"
    if proc.returncode != 0 or not out.exists():
        return [], f"py-spy failed: {(proc.stderr or proc.stdout).strip()[-300:]}"
    return summarize_collapsed(out.read_text()), None
