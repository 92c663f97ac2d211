"""The pictures of a run: training curves, the confusion matrix, and the comparison bar chart."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_training_curves(history: Sequence[dict], path: Path, title: str) -> None:
    """Plot loss and accuracy per epoch for training and validation, marking where phases change.

    Args:
        history: one dict per epoch with ``epoch``, ``phase``, ``loss``, ``accuracy``, ``val_loss``,
            ``val_accuracy``.
        path: the PNG to write.
        title: the figure title.
    """
    epochs = [row["epoch"] for row in history]
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for axis, metric in zip(axes, ("loss", "accuracy"), strict=True):
        axis.plot(epochs, [row[metric] for row in history], marker=".", label="training")
        axis.plot(epochs, [row[f"val_{metric}"] for row in history], marker=".", label="validation")
        for previous, row in zip(history, history[1:], strict=False):
            if row["phase"] != previous["phase"]:
                axis.axvline(row["epoch"] - 0.5, color="grey", linestyle="--", linewidth=1)
                axis.text(
                    row["epoch"] - 0.4, axis.get_ylim()[1], row["phase"], va="top", fontsize=8, color="grey"
                )
        axis.set_xlabel("epoch")
        axis.set_ylabel(metric)
        axis.grid(alpha=0.3)
        axis.legend()
    axes[1].set_ylim(0, 1.02)
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_confusion_matrix(
    confusion: Sequence[Sequence[int]], class_names: Sequence[str], path: Path, title: str
) -> None:
    """Draw counts in each cell, coloured by the row-normalised rate (the per-class recall)."""
    counts = np.asarray(confusion, dtype=float)
    row_totals = counts.sum(axis=1, keepdims=True)
    rates = np.divide(counts, row_totals, out=np.zeros_like(counts), where=row_totals > 0)
    figure, axis = plt.subplots(figsize=(5, 4.4))
    image = axis.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for row in range(len(class_names)):
        for column in range(len(class_names)):
            colour = "white" if rates[row, column] > 0.6 else "black"
            axis.text(column, row, f"{int(counts[row, column])}", ha="center", va="center", color=colour)
    axis.set_xticks(range(len(class_names)), class_names)
    axis.set_yticks(range(len(class_names)), class_names)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(title)
    figure.colorbar(image, ax=axis, fraction=0.046, label="fraction of true class")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_comparison(rows: Sequence[dict], path: Path, title: str, chance: float) -> None:
    """Grouped bars of accuracy, macro precision and macro recall per model, with 95 % CI error bars.

    Args:
        rows: one dict per model: ``model`` and, for each of ``accuracy``, ``precision``,
            ``recall``, an estimate ``{"value": v, "ci95": [low, high]}``.
        path: the PNG to write.
        title: the figure title.
        chance: the accuracy of always answering the most common test class, drawn as a line.
    """
    metrics = ("accuracy", "precision", "recall")
    positions = np.arange(len(rows))
    width = 0.8 / len(metrics)
    figure, axis = plt.subplots(figsize=(max(6, 1.8 * len(rows)), 4.2))
    for offset, metric in enumerate(metrics):
        values = np.array([row[metric]["value"] for row in rows], dtype=float)
        lows = np.array([row[metric]["ci95"][0] for row in rows], dtype=float)
        highs = np.array([row[metric]["ci95"][1] for row in rows], dtype=float)
        errors = np.vstack([np.clip(values - lows, 0, None), np.clip(highs - values, 0, None)])
        # yerr as nested lists: matplotlib 3.9 warns on a (2, 1) numpy array (numpy 1.25 deprecation).
        bars = axis.bar(
            positions + (offset - 1) * width, values, width, yerr=errors.tolist(), capsize=3, label=metric
        )
        axis.bar_label(bars, labels=[f"{value:.2f}" for value in values], fontsize=7, padding=2)
    # Chance accuracy: always answering the test set's most common class (25 % when balanced).
    axis.axhline(
        chance, color="grey", linestyle=":", linewidth=1, label=f"chance accuracy ({100 * chance:.0f} %)"
    )
    axis.set_xticks(positions, [row["model"] for row in rows])
    axis.set_ylim(0, 1.1)
    axis.set_ylabel("score (95 % CI)")
    axis.set_title(title)
    axis.legend(loc="upper left", fontsize=8, ncols=4)
    axis.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
