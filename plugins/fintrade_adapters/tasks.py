"""Tasks: what a training example is, how a batch is built, what the loss and the metrics are.

The training loop (:mod:`fintrade_adapters.training`) knows nothing about sentiment: it asks a
:class:`Task` to encode frames into examples, collate them into batches, compute a loss and
evaluate. Causal-LM fine-tuning (loss on response tokens only), extractive QA and distillation
(a teacher's logits stored in each example, a KL + CE loss) are further tasks on the same loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from fintrade.models.devices import to_model_device
from fintrade_adapters.batching import length_batches
from fintrade_adapters.metrics import classification_metrics

if TYPE_CHECKING:
    import pandas as pd
    import torch
    from transformers import PreTrainedTokenizerBase

Example = dict[str, Any]
"""One encoded example; ``input_ids`` (a list of token ids) is required, the rest is the task's."""


class Task(Protocol):
    """The contract between the training loop and what is being learned."""

    name: str

    def encode(self, frame: pd.DataFrame) -> list[Example]:
        """Tokenize a frame of rows into examples, each with ``input_ids``."""
        ...

    def collate(self, examples: Sequence[Example]) -> dict[str, torch.Tensor]:
        """Pad examples into one batch of tensors on the CPU."""
        ...

    def loss(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The training loss of one batch (a scalar with a graph); the loop has moved ``batch`` next to the model."""
        ...

    def evaluate(self, model: torch.nn.Module, examples: Sequence[Example], batch_size: int) -> dict[str, Any]:
        """Metrics on ``examples``, ``loss`` included; the model is left in eval mode."""
        ...


class SequenceClassificationTask:
    """Text to one of ``labels`` (3-class financial sentiment by default), cross-entropy loss.

    ``class_weights`` (one per label) weigh the training loss for imbalanced data; evaluation
    losses are always unweighted so that runs with and without weights compare.
    """

    name = "sequence-classification"

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        labels: Sequence[str],
        max_length: int,
        class_weights: Sequence[float] | None = None,
    ) -> None:
        self.tokenizer = tokenizer
        self.labels = tuple(labels)
        self.max_length = max_length
        self.class_weights = None if class_weights is None else list(class_weights)

    def encode(self, frame: pd.DataFrame) -> list[Example]:
        encoded = self.tokenizer(
            frame["text"].astype(str).tolist(), truncation=True, max_length=self.max_length, add_special_tokens=True
        )
        index = {label: i for i, label in enumerate(self.labels)}
        labels = [index[str(label)] for label in frame["label"]] if "label" in frame.columns else [-1] * len(frame)
        return [{"input_ids": ids, "label": label} for ids, label in zip(encoded["input_ids"], labels, strict=True)]

    def collate(self, examples: Sequence[Example]) -> dict[str, torch.Tensor]:
        import torch

        width = max(len(example["input_ids"]) for example in examples)
        pad = int(self.tokenizer.pad_token_id or 0)
        # Right padding: BERT-type models ignore masked positions; decoder classifiers read the
        # last non-pad token, which right padding keeps in place.
        ids = torch.full((len(examples), width), pad, dtype=torch.long)
        mask = torch.zeros((len(examples), width), dtype=torch.long)
        for row, example in enumerate(examples):
            tokens = example["input_ids"]
            ids[row, : len(tokens)] = torch.tensor(tokens, dtype=torch.long)
            mask[row, : len(tokens)] = 1
        labels = torch.tensor([example["label"] for example in examples], dtype=torch.long)
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}

    def logits(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        output = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        return output.logits  # type: ignore[no-any-return]

    def loss(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        import torch

        logits = self.logits(model, batch)
        weight = None if self.class_weights is None else logits.new_tensor(self.class_weights)
        return torch.nn.functional.cross_entropy(logits.float(), batch["labels"], weight=weight)

    def predict(self, model: torch.nn.Module, examples: Sequence[Example], batch_size: int) -> torch.Tensor:
        """Logits for ``examples`` in their original order (eval mode, no gradients)."""
        import torch

        model.eval()
        lengths = [len(example["input_ids"]) for example in examples]
        out = torch.zeros((len(examples), len(self.labels)))
        with torch.no_grad():
            for batch_indices in length_batches(lengths, batch_size, shuffle=False, seed=0, bucket=True):
                batch = to_model_device(self.collate([examples[i] for i in batch_indices]), model)
                out[batch_indices] = self.logits(model, batch).float().cpu()
        return out

    def evaluate(self, model: torch.nn.Module, examples: Sequence[Example], batch_size: int) -> dict[str, Any]:
        import torch

        logits = self.predict(model, examples, batch_size)
        truth = torch.tensor([example["label"] for example in examples], dtype=torch.long)
        metrics = classification_metrics(truth.tolist(), logits.argmax(dim=1).tolist(), self.labels)
        metrics["loss"] = float(torch.nn.functional.cross_entropy(logits, truth))
        return metrics


def balanced_class_weights(labels: Sequence[str], observed: Sequence[str]) -> list[float]:
    """``n / (k * count)`` per label (scikit-learn's "balanced"); an absent label gets weight 1."""
    counts = {label: 0 for label in labels}
    for label in observed:
        counts[str(label)] += 1
    total, k = len(observed), len(labels)
    return [total / (k * counts[label]) if counts[label] else 1.0 for label in labels]
