"""The backtest's picture: per cut-off, ROC curves, lift curves and the lead-time histogram (matplotlib, PNG)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot(curves: dict[str, dict[str, dict[str, Any]]], path: Path, title: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    rows = max(len(curves), 1)
    fig, axes = plt.subplots(rows, 3, figsize=(15, 4.2 * rows), squeeze=False)
    for row, (cutoff, rankers) in enumerate(sorted(curves.items())):
        roc, lift, lead = axes[row]
        for name, curve in rankers.items():
            xs, ys = zip(*curve["roc"], strict=True)
            roc.plot(xs, ys, label=name)
            if curve["lift"]:
                lx, ly = zip(*curve["lift"], strict=True)
                lift.plot([100 * x for x in lx], ly, label=name)
            if curve["lead"]:
                lead.hist(curve["lead"], bins=30, alpha=0.5, label=f"{name} (n={len(curve['lead'])})")
        roc.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
        roc.set(title=f"ROC, cut-off {cutoff[:10]}", xlabel="false positive rate", ylabel="true positive rate")
        lift.axhline(1.0, color="grey", linestyle=":", linewidth=1)
        lift.set(title=f"lift, cut-off {cutoff[:10]}", xlabel="top % of customers by risk", ylabel="lift")
        lead.axvline(0.0, color="grey", linestyle=":", linewidth=1)
        lead.set(
            title=f"lead time of alerted churners, {cutoff[:10]}",
            xlabel="days from first alert to last activity (< 0: alert came after it)",
            ylabel="churners",
        )
        for ax in (roc, lift, lead):
            ax.legend(fontsize=8)
            ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
