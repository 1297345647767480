"""The training loop: a compact torch loop that any :class:`~fintrade_adapters.tasks.Task` runs on.

Not the Hugging Face Trainer, so that throughput and control stay ours: length-bucketed
batches, gradient accumulation and clipping, a linear/cosine/constant schedule with warmup,
validation every epoch (or every ``eval_every`` steps), early stopping that restores the best
weights, and a progress bar with the loss on stderr (stdout stays free for ``--json``).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fintrade.models.devices import to_model_device
from fintrade_adapters.batching import length_batches

if TYPE_CHECKING:
    import torch

    from fintrade_adapters.tasks import Example, Task


@dataclass(frozen=True)
class LoopOptions:
    """How to optimise; see ``docs/training.md`` for what each option means."""

    lr: float = 5e-4
    epochs: float = 1.0
    max_steps: int | None = None
    batch_size: int = 16
    grad_accum: int = 1
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    schedule: str = "linear"
    warmup_ratio: float = 0.06
    eval_every: int | None = None
    patience: int | None = 2
    stop_metric: str = "loss"
    bucket: bool = True
    seed: int = 0
    progress: bool = True


@dataclass
class TrainResult:
    """What a run did: steps, losses, validation history, the best point, and speed."""

    steps: int = 0
    step_losses: list[float] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] | None = None
    best_step: int | None = None
    stopped_early: bool = False
    seconds: float = 0.0
    tokens: int = 0
    trainable_parameters: int = 0
    total_parameters: int = 0

    @property
    def train_loss(self) -> float:
        """Mean loss over the last (up to) 20 optimizer steps."""
        recent = self.step_losses[-20:]
        return float(sum(recent) / len(recent)) if recent else float("nan")

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch: same seed, same head initialisation, same batches."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def count_parameters(model: torch.nn.Module) -> tuple[int, int]:
    """(trainable, total) parameters; 4-bit weights count as the values they hold, not bytes."""
    counter = getattr(model, "get_nb_trainable_parameters", None)
    if callable(counter):  # peft models: counts packed 4-bit weights correctly
        trainable, total = counter()
        return int(trainable), int(total)
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, total


def schedule_factor(step: int, total: int, warmup: int, kind: str) -> float:
    """The learning-rate multiplier at ``step``: linear warmup, then linear/cosine decay to 0."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    if kind == "constant":
        return 1.0
    progress = (step - warmup) / max(1, total - warmup)
    if kind == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
    return max(0.0, 1.0 - progress)


def _improved(value: float, best: float | None, metric: str) -> bool:
    if best is None:
        return True
    return value < best if metric == "loss" else value > best


def fit(
    model: torch.nn.Module,
    task: Task,
    train: Sequence[Example],
    validation: Sequence[Example],
    options: LoopOptions,
) -> TrainResult:
    """Train ``model``'s trainable parameters on ``train``; returns what happened.

    With validation examples and ``patience``, training stops after ``patience`` evaluations
    without improvement of ``stop_metric`` and the best weights are put back.
    """
    import torch

    result = TrainResult()
    result.trainable_parameters, result.total_parameters = count_parameters(model)
    parameters = [p for p in model.parameters() if p.requires_grad]
    if not train or not parameters:
        return result
    lengths = [len(example["input_ids"]) for example in train]
    batches_per_epoch = math.ceil(len(train) / options.batch_size)
    steps_per_epoch = max(1, math.ceil(batches_per_epoch / options.grad_accum))
    total = options.max_steps or max(1, math.ceil(options.epochs * steps_per_epoch))
    warmup = int(options.warmup_ratio * total)
    optimizer = torch.optim.AdamW(parameters, lr=options.lr, weight_decay=options.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: schedule_factor(step, total, warmup, options.schedule)
    )
    best_value: float | None = None
    best_state: dict[str, torch.Tensor] | None = None
    stale = 0
    started = time.perf_counter()

    def validate() -> bool:
        """Evaluate, remember the best weights; True when training should stop."""
        nonlocal best_value, best_state, stale
        metrics = task.evaluate(model, validation, options.batch_size)
        model.train()
        result.history.append({"step": result.steps, "train_loss": result.train_loss, **_scalars(metrics)})
        value = float(metrics[options.stop_metric])
        if _improved(value, best_value, options.stop_metric):
            best_value, stale = value, 0
            result.best, result.best_step = metrics, result.steps
            best_state = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
            return False
        stale += 1
        return options.patience is not None and stale >= options.patience

    model.train()
    optimizer.zero_grad(set_to_none=True)
    with _progress(options.progress, total) as advance:
        epoch = 0
        done = False
        while not done:
            batches = length_batches(
                lengths, options.batch_size, shuffle=True, seed=options.seed + epoch, bucket=options.bucket
            )
            window: list[float] = []
            for position, indices in enumerate(batches):
                batch = to_model_device(task.collate([train[i] for i in indices]), model)
                loss = task.loss(model, batch)
                (loss / options.grad_accum).backward()
                window.append(float(loss.detach()))
                result.tokens += int(batch["attention_mask"].sum()) if "attention_mask" in batch else 0
                if len(window) < options.grad_accum and position < len(batches) - 1:
                    continue
                if options.max_grad_norm:
                    torch.nn.utils.clip_grad_norm_(parameters, options.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                result.steps += 1
                result.step_losses.append(sum(window) / len(window))
                window = []
                advance(result.step_losses[-1], scheduler.get_last_lr()[0])
                at_eval = options.eval_every is not None and result.steps % options.eval_every == 0
                if validation and at_eval and validate():
                    result.stopped_early = done = True
                    break
                if result.steps >= total:
                    done = True
                    break
            epoch += 1
            if validation and options.eval_every is None and not result.stopped_early and validate():
                result.stopped_early = done = True
    if validation and (not result.history or result.history[-1]["step"] != result.steps):
        validate()
    if best_state is not None and result.best_step != result.steps:
        with torch.no_grad():
            for name, parameter in model.named_parameters():
                if name in best_state:
                    parameter.copy_(best_state[name])
    result.seconds = time.perf_counter() - started
    model.eval()
    return result


def _scalars(metrics: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in metrics.items() if isinstance(value, int | float)}


class _progress:
    """A rich progress bar on stderr showing step, loss and learning rate (or nothing)."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled = enabled
        self.total = total

    def __enter__(self) -> Any:
        if not self.enabled:
            return lambda loss, lr: None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(
            TextColumn("training"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.4f}  lr {task.fields[lr]:.2e}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
        )
        self.bar.__enter__()
        task_id = self.bar.add_task("train", total=self.total, loss=float("nan"), lr=0.0)

        def advance(loss: float, lr: float) -> None:
            self.bar.update(task_id, advance=1, loss=loss, lr=lr)

        return advance

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.bar.__exit__(None, None, None)
