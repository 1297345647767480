"""Ablations: the same training run at several LoRA ranks, one row of results per rank."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fintrade.errors import ConfigError


def ablate_ranks(base_config: Mapping[str, Any], ranks: Sequence[int], output: Path) -> list[dict[str, Any]]:
    """Train once per rank (artifacts under ``output/rank-<r>``); returns one row per rank.

    Every run shares the seed, data split and options, so the ranks differ in the adapter only.
    """
    from fintrade_adapters.runner import run

    if not ranks:
        raise ConfigError("ablate needs at least one rank (--ranks 4,8,16)")
    if any(rank <= 0 for rank in ranks):
        raise ConfigError(f"ranks must be positive, got {list(ranks)}")
    rows = []
    for rank in ranks:
        trained = run({**base_config, "rank": rank, "output": str(output / f"rank-{rank}")})
        metrics = trained.manifest["metrics"]
        evaluated, evaluated_on = evaluated_metrics(trained.manifest)
        rows.append(
            {
                "rank": rank,
                "trainable_parameters": trained.manifest["parameters"]["trainable"],
                "train_loss": metrics["train_loss"],
                "eval_loss": evaluated.get("loss"),
                "accuracy": evaluated.get("accuracy"),
                "macro_f1": evaluated.get("macro_f1"),
                "evaluated_on": evaluated_on,
                "artifact": str(trained.path),
            }
        )
    return rows


def evaluated_metrics(manifest: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """The metrics a results table shows: on the test split, or validation when the test split is empty."""
    metrics = manifest["metrics"]
    if metrics["test"]:
        return dict(metrics["test"]), "test"
    return dict(metrics["validation"] or {}), "validation"
