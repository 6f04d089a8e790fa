"""The scale chart: replay events/s and peak RSS against the number of customers, per store (PNG)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def draw_scale_chart(scale_replay: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    runs = [r for r in scale_replay.get("runs", []) if r.get("status") == "ok"]
    fig, (speed, memory) = plt.subplots(1, 2, figsize=(10, 3.8))
    for store, marker in (("memory://", "o"), ("rocksdb://", "s")):
        mine = sorted((r for r in runs if r["store"] == store), key=lambda r: r["customers"])
        if not mine:
            continue
        xs = [r["customers"] for r in mine]
        name = store.rstrip(":/")
        speed.plot(xs, [r["eps"] for r in mine], marker=marker, label=name)
        memory.plot(xs, [r["peak_rss_bytes"] / 1e6 for r in mine], marker=marker, label=f"{name}: peak RSS")
        if store == "memory://":
            goal = [r["rss_goal_bytes"] / 1e6 for r in mine]
            memory.plot(xs, goal, linestyle="--", color="grey", label="goal: 2 x state + 300 MB")
            memory.plot(xs, [r["state_bytes"] / 1e6 for r in mine], linestyle=":", label="encoded state")
    days = scale_replay.get("days", "?")
    speed.set(xscale="log", xlabel="customers", ylabel="events/s", title=f"replay speed ({days}-day mix)")
    speed.set_ylim(bottom=0)
    memory.set(xscale="log", yscale="log", xlabel="customers", ylabel="MB", title="replay peak memory")
    for ax in (speed, memory):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
