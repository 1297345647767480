"""Extractive question answering: SQuAD-style answer spans in a context, start/end cross-entropy.

Rows have ``question``, ``context``, ``answer_text`` and ``answer_start`` (a character offset
into the context). Question and context are encoded as one pair, truncating the context only
(``only_second``); the fast tokenizer's offset mapping turns the answer's characters into
token positions (:func:`answer_token_span`). When truncation cut the answer out of the window,
the example is labelled with the first token (``[CLS]``): SQuAD 2.0's "no answer here", so the
model learns that the window holds no answer instead of a wrong span.

Prediction takes the best span over context tokens (start <= end, at most
``max_answer_length`` tokens; :func:`~fintrade_adapters.qa_metrics.best_span`) and maps it back
to the context's characters. The data always has an answer, so the prediction is always a
span, never "no answer". Metrics are SQuAD exact match and token F1, as fractions.

Sentiment as QA (:func:`sentiment_questions`): the context is the label options followed by
the sentence, ``"negative. neutral. positive. <sentence>"``, the question is "What is the
financial sentiment of this statement?", and the answer is the label's word in the options.
Such rows also get accuracy and macro F1 (a prediction that is not a label counts as wrong).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fintrade.errors import ConfigError
from fintrade.models.devices import to_model_device
from fintrade_adapters.batching import length_batches
from fintrade_adapters.metrics import classification_metrics
from fintrade_adapters.qa_metrics import answer_scores, best_span, normalize_answer

if TYPE_CHECKING:
    import pandas as pd
    import torch
    from transformers import PreTrainedTokenizerBase

    from fintrade_adapters.tasks import Example

SENTIMENT_QUESTION = "What is the financial sentiment of this statement?"
QA_COLUMNS: tuple[str, ...] = ("question", "context", "answer_text", "answer_start")
NOT_A_LABEL = "(other)"


def sentiment_questions(frame: pd.DataFrame, labels: Sequence[str]) -> pd.DataFrame:
    """Labelled sentiment rows as QA rows: the label options, then the sentence; the answer is the label."""
    prefix = "".join(f"{label}. " for label in labels)
    starts, position = {}, 0
    for label in labels:
        starts[label] = position
        position += len(label) + 2
    rows = frame.copy()
    rows["question"] = SENTIMENT_QUESTION
    rows["context"] = [prefix + str(text) for text in frame["text"]]
    rows["answer_text"] = frame["label"].astype(str)
    rows["answer_start"] = [starts[str(label)] for label in frame["label"]]
    return rows


def answer_token_span(
    offsets: Sequence[tuple[int, int]], sequence_ids: Sequence[int | None], start_char: int, end_char: int
) -> tuple[int, int]:
    """The first and last token of the answer characters ``[start_char, end_char)``, or ``(0, 0)``.

    Only context tokens (sequence id 1) count. ``(0, 0)`` (the ``[CLS]`` position) when the
    window holds no context or the answer is not wholly inside it (a truncated context).
    """
    context = [i for i, sequence in enumerate(sequence_ids) if sequence == 1]
    if not context or end_char <= start_char:
        return 0, 0
    first, last = context[0], context[-1]
    if offsets[first][0] > start_char or offsets[last][1] < end_char:
        return 0, 0
    start = first
    while start < last and offsets[start][1] <= start_char:
        start += 1
    end = last
    while end > start and offsets[end][0] >= end_char:
        end -= 1
    return start, end


class QuestionAnsweringTask:
    """Question + context -> the answer's start and end tokens; mean of the two cross-entropies."""

    name = "extractive-qa"

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        max_length: int,
        labels: Sequence[str] = (),
        max_answer_length: int = 30,
    ) -> None:
        if not getattr(tokenizer, "is_fast", False):
            raise ConfigError(
                f"extractive QA needs a fast tokenizer (offset mappings); {type(tokenizer).__name__} is not one"
            )
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.labels = tuple(labels)
        self.max_answer_length = max_answer_length
        self.pad_id = int(tokenizer.pad_token_id or 0)

    def _question(self, question: str) -> str:
        """At most half the window: the context must keep room (``only_second`` cannot cut questions)."""
        encoded = self.tokenizer(question, add_special_tokens=False, return_offsets_mapping=True)
        limit = max(1, self.max_length // 2)
        if len(encoded["input_ids"]) <= limit:
            return question
        return question[: encoded["offset_mapping"][limit - 1][1]]

    def encode(self, frame: pd.DataFrame) -> list[Example]:
        questions = [self._question(str(q)) for q in frame["question"]]
        contexts = [str(c) for c in frame["context"]]
        encoded = self.tokenizer(
            questions,
            contexts,
            truncation="only_second",
            max_length=self.max_length,
            return_offsets_mapping=True,
        )
        index = {label: i for i, label in enumerate(self.labels)}
        has_labels = bool(self.labels) and "label" in frame.columns
        examples = []
        for row in range(len(frame)):
            answer = str(frame["answer_text"].iloc[row])
            start_char = int(frame["answer_start"].iloc[row])
            sequence_ids = encoded.sequence_ids(row)
            offsets = [tuple(pair) for pair in encoded["offset_mapping"][row]]
            start, end = answer_token_span(offsets, sequence_ids, start_char, start_char + len(answer))
            example: Example = {
                "input_ids": encoded["input_ids"][row],
                "start": start,
                "end": end,
                # Character spans of context tokens only; None elsewhere (question, specials).
                "offsets": [
                    pair if sequence == 1 else None for pair, sequence in zip(offsets, sequence_ids, strict=True)
                ],
                "context": contexts[row],
                "answer": answer,
                "label": index.get(str(frame["label"].iloc[row]), -1) if has_labels else -1,
            }
            if "token_type_ids" in encoded:
                example["token_type_ids"] = encoded["token_type_ids"][row]
            examples.append(example)
        return examples

    def collate(self, examples: Sequence[Example]) -> dict[str, torch.Tensor]:
        import torch

        width = max(len(example["input_ids"]) for example in examples)
        ids = torch.full((len(examples), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(examples), width), dtype=torch.long)
        types = torch.zeros((len(examples), width), dtype=torch.long)
        for row, example in enumerate(examples):
            n = len(example["input_ids"])
            ids[row, :n] = torch.tensor(example["input_ids"], dtype=torch.long)
            mask[row, :n] = 1
            if "token_type_ids" in example:
                types[row, :n] = torch.tensor(example["token_type_ids"], dtype=torch.long)
        batch = {
            "input_ids": ids,
            "attention_mask": mask,
            "start_positions": torch.tensor([example["start"] for example in examples], dtype=torch.long),
            "end_positions": torch.tensor([example["end"] for example in examples], dtype=torch.long),
        }
        if "token_type_ids" in examples[0]:
            batch["token_type_ids"] = types
        return batch

    def logits(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        inputs = {key: batch[key] for key in ("input_ids", "attention_mask", "token_type_ids") if key in batch}
        output = model(**inputs)
        return output.start_logits.float(), output.end_logits.float()

    def loss(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        import torch

        start_logits, end_logits = self.logits(model, batch)
        start_loss = torch.nn.functional.cross_entropy(start_logits, batch["start_positions"])
        end_loss = torch.nn.functional.cross_entropy(end_logits, batch["end_positions"])
        return (start_loss + end_loss) / 2

    def predict(self, model: torch.nn.Module, examples: Sequence[Example], batch_size: int) -> tuple[list[str], float]:
        """The predicted answer text of every example (in order) and the mean span loss."""
        import torch

        model.eval()
        lengths = [len(example["input_ids"]) for example in examples]
        answers = [""] * len(examples)
        loss_sum = 0.0
        with torch.no_grad():
            for indices in length_batches(lengths, batch_size, shuffle=False, seed=0, bucket=True):
                batch = to_model_device(self.collate([examples[i] for i in indices]), model)
                start_logits, end_logits = self.logits(model, batch)
                start_loss = torch.nn.functional.cross_entropy(start_logits, batch["start_positions"], reduction="sum")
                end_loss = torch.nn.functional.cross_entropy(end_logits, batch["end_positions"], reduction="sum")
                loss_sum += float(start_loss + end_loss) / 2
                start_logits, end_logits = start_logits.cpu(), end_logits.cpu()
                for row, i in enumerate(indices):
                    offsets = examples[i]["offsets"]
                    allowed = torch.zeros(start_logits.shape[1], dtype=torch.bool)
                    allowed[: len(offsets)] = torch.tensor([pair is not None for pair in offsets])
                    start, end, _ = best_span(start_logits[row], end_logits[row], allowed, self.max_answer_length)
                    if start >= 0:
                        answers[i] = examples[i]["context"][offsets[start][0] : offsets[end][1]]
        return answers, loss_sum / max(1, len(examples))

    def evaluate(self, model: torch.nn.Module, examples: Sequence[Example], batch_size: int) -> dict[str, Any]:
        """``exact_match``, ``f1`` (SQuAD, fractions), ``loss``, ``n``; with labels, accuracy and macro F1."""
        answers, loss = self.predict(model, examples, batch_size)
        metrics: dict[str, Any] = {"n": len(examples), "loss": loss}
        metrics |= answer_scores(answers, [example["answer"] for example in examples])
        metrics["answer_in_window"] = sum(example["start"] > 0 for example in examples) / max(1, len(examples))
        if self.labels and examples and all(example["label"] >= 0 for example in examples):
            metrics |= label_metrics(answers, [example["label"] for example in examples], self.labels)
        return metrics


def label_metrics(answers: Sequence[str], truth: Sequence[int], labels: Sequence[str]) -> dict[str, Any]:
    """Classification metrics of answers read as labels; an answer that is no label counts as wrong.

    Such answers go to an extra ``(other)`` column of the confusion matrix; the macro and
    weighted F1 average over the real labels only.
    """
    by_text = {normalize_answer(label): i for i, label in enumerate(labels)}
    predicted = [by_text.get(normalize_answer(answer), len(labels)) for answer in answers]
    metrics = classification_metrics(truth, predicted, [*labels, NOT_A_LABEL])
    per_class = metrics["per_class"]
    metrics["macro_f1"] = sum(per_class[label]["f1"] for label in labels) / len(labels)
    metrics["per_class"] = {label: per_class[label] for label in labels}
    metrics["not_a_label"] = sum(p == len(labels) for p in predicted)
    return metrics
