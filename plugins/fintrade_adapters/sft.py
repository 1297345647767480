"""Causal-LM supervised fine-tuning: prompt + response, with the loss on the response tokens only.

An example is ``prompt <|fin_response|> response <|fin_end|>``. The two markers are added to
the tokenizer as special tokens (always single tokens, never split) and the embedding matrix
grows by exactly two rows. The new rows start from meaningful embeddings rather than noise:
``<|fin_response|>`` from the mean of the tokens of ``"\\nAnswer:"``, ``<|fin_end|>`` from the
end-of-sequence token, so that an untrained marker already reads as "the answer follows" and
"stop here" (:func:`fintrade.models.markers.init_marker_embeddings`; deterministic, so a reload rebuilds them exactly).
LoRA trains the two rows (peft's ``trainable_token_indices``, tied to the output layer);
prefix tuning and IA3 keep them as initialised.

Labels are ``-100`` on the prompt (marker included) and on padding (completion-only masking):
the model is never trained to reproduce the prompt. Sentiment becomes generation with
:func:`sentiment_prompts`: prompt ``"What is the financial sentiment of this statement?
<sentence>"``, response ``negative``, ``neutral`` or ``positive``; its evaluation scores each
label's continuation and takes the most likely (no unparseable generations), giving accuracy and
macro F1 on the same footing as a classifier. Free-form responses are evaluated by greedy
generation against the reference: SQuAD exact match and token F1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fintrade.models.devices import to_model_device
from fintrade.models.markers import marker_ids
from fintrade_adapters.batching import length_batches
from fintrade_adapters.metrics import classification_metrics
from fintrade_adapters.qa_metrics import answer_scores

if TYPE_CHECKING:
    import pandas as pd
    import torch
    from transformers import PreTrainedTokenizerBase

    from fintrade_adapters.tasks import Example

SENTIMENT_PROMPT = "What is the financial sentiment of this statement?"
IGNORE_INDEX = -100


def sentiment_prompts(frame: pd.DataFrame) -> pd.DataFrame:
    """Labelled sentiment rows as prompt/response rows; ``label`` and dates are kept."""
    rows = frame.copy()
    rows["prompt"] = [f"{SENTIMENT_PROMPT} {text}" for text in frame["text"].astype(str)]
    rows["response"] = frame["label"].astype(str)
    return rows


class CausalLMTask:
    """Prompt -> response generation, cross-entropy on the response tokens (and the end marker).

    ``labels`` (e.g. the three sentiment labels) turn on label scoring in :meth:`evaluate`;
    ``max_new_tokens`` bounds greedy generation for free-form responses (0: loss only).
    """

    name = "causal-lm-sft"

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        max_length: int,
        labels: Sequence[str] = (),
        max_new_tokens: int = 32,
    ) -> None:
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.labels = tuple(labels)
        self.max_new_tokens = max_new_tokens
        self.response_id, self.end_id = marker_ids(tokenizer)
        self.pad_id = int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.end_id)

    # --- examples and batches ---------------------------------------------------------------

    def prompt_ids(self, prompt: str) -> list[int]:
        """The prompt's tokens (with the tokenizer's own BOS, if it adds one) and the response marker."""
        return [*self.tokenizer(prompt, add_special_tokens=True)["input_ids"], self.response_id]

    def response_ids(self, response: str) -> list[int]:
        return [*self.tokenizer(response, add_special_tokens=False)["input_ids"], self.end_id]

    def join(self, prompt: list[int], response: list[int]) -> tuple[list[int], int]:
        """``prompt + response`` within ``max_length``: the prompt's tail gives way first, then the response's.

        Returns the ids and the prompt length. The response marker always stays, right before
        the response, so the masking boundary is exact.
        """
        room_for_prompt = max(2, self.max_length - len(response))
        if len(prompt) > room_for_prompt:
            prompt = [*prompt[: room_for_prompt - 1], self.response_id]
        return [*prompt, *response][: self.max_length], len(prompt)

    def example_ids(self, prompt: str, response: str) -> list[int]:
        """The token ids of one training example: prompt, response marker, response, end marker."""
        return self.join(self.prompt_ids(prompt), self.response_ids(response))[0]

    def encode(self, frame: pd.DataFrame) -> list[Example]:
        index = {label: i for i, label in enumerate(self.labels)}
        has_labels = bool(self.labels) and "label" in frame.columns
        examples = []
        for position, (prompt, response) in enumerate(zip(frame["prompt"], frame["response"], strict=True)):
            ids, prompt_length = self.join(self.prompt_ids(str(prompt)), self.response_ids(str(response)))
            label = index.get(str(frame["label"].iloc[position]), -1) if has_labels else -1
            examples.append(
                {"input_ids": ids, "prompt_length": prompt_length, "response": str(response), "label": label}
            )
        return examples

    def collate(self, examples: Sequence[Example]) -> dict[str, torch.Tensor]:
        """Right-padded ids, the attention mask, and labels that are -100 on prompt and padding."""
        import torch

        width = max(len(example["input_ids"]) for example in examples)
        ids = torch.full((len(examples), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(examples), width), dtype=torch.long)
        labels = torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long)
        for row, example in enumerate(examples):
            tokens = torch.tensor(example["input_ids"], dtype=torch.long)
            ids[row, : len(tokens)] = tokens
            mask[row, : len(tokens)] = 1
            start = example["prompt_length"]
            labels[row, start : len(tokens)] = tokens[start:]
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}

    # --- loss -------------------------------------------------------------------------------

    def loss(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        losses, counted = response_token_losses(logits, batch["labels"])
        return losses.sum() / counted.sum().clamp(min=1)

    # --- evaluation -------------------------------------------------------------------------

    def evaluate(self, model: torch.nn.Module, examples: Sequence[Example], batch_size: int) -> dict[str, Any]:
        """``loss`` (mean CE per response token), ``perplexity``, ``token_accuracy``; then accuracy and
        macro F1 by label scoring when every example has a label, else exact match and F1 of greedy
        generations (when ``max_new_tokens`` > 0)."""
        import torch

        model.eval()
        total, count, correct = 0.0, 0, 0
        with torch.no_grad():
            for indices in self._batches(examples, batch_size):
                batch = to_model_device(self.collate([examples[i] for i in indices]), model)
                logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
                losses, counted = response_token_losses(logits, batch["labels"])
                total += float(losses.sum())
                count += int(counted.sum())
                predicted = logits[:, :-1].argmax(dim=-1)
                correct += int(((predicted == batch["labels"][:, 1:]) & counted).sum())
        loss = total / count if count else float("nan")
        metrics: dict[str, Any] = {"n": len(examples), "loss": loss}
        metrics["perplexity"] = math.exp(min(loss, 50.0)) if count else float("nan")
        metrics["token_accuracy"] = correct / count if count else 0.0
        if self.labels and examples and all(example["label"] >= 0 for example in examples):
            scores = self.label_scores(model, examples, batch_size)
            truth = [example["label"] for example in examples]
            metrics |= classification_metrics(truth, scores.argmax(dim=1).tolist(), self.labels)
        elif self.max_new_tokens > 0 and examples:
            generated = self.generate(model, [example["input_ids"][: example["prompt_length"]] for example in examples])
            metrics |= answer_scores(generated, [example["response"] for example in examples])
        return metrics

    def label_scores(self, model: torch.nn.Module, examples: Sequence[Example], batch_size: int) -> torch.Tensor:
        """Log-probability of each label's continuation (label tokens + end marker) after each prompt."""
        import torch

        candidates = [self.response_ids(label) for label in self.labels]
        pairs: list[Example] = []
        for example in examples:
            prompt = example["input_ids"][: example["prompt_length"]]
            for candidate in candidates:
                ids, prompt_length = self.join(prompt, candidate)
                pairs.append({"input_ids": ids, "prompt_length": prompt_length})
        totals = torch.zeros(len(pairs))
        model.eval()
        with torch.no_grad():
            for indices in self._batches(pairs, batch_size):
                batch = to_model_device(self.collate([pairs[i] for i in indices]), model)
                logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
                losses, _ = response_token_losses(logits, batch["labels"])
                totals[indices] = -losses.sum(dim=1).float().cpu()
        return totals.view(len(examples), len(candidates))

    def generate(self, model: Any, prompts: Sequence[list[int]], batch_size: int = 16) -> list[str]:
        """Greedy responses (decoded, markers removed) to prompt ids that end in the response marker."""
        import torch
        from transformers import GenerationConfig

        config = GenerationConfig(
            max_new_tokens=self.max_new_tokens,
            do_sample=False,
            eos_token_id=[self.end_id, *([self.tokenizer.eos_token_id] if self.tokenizer.eos_token_id else [])],
            pad_token_id=self.pad_id,
        )
        out: list[str] = [""] * len(prompts)
        model.eval()
        with torch.no_grad():
            for indices in self._batches([{"input_ids": p} for p in prompts], batch_size):
                width = max(len(prompts[i]) for i in indices)
                # Left padding: every prompt ends where generation starts.
                ids = torch.full((len(indices), width), self.pad_id, dtype=torch.long)
                mask = torch.zeros((len(indices), width), dtype=torch.long)
                for row, i in enumerate(indices):
                    ids[row, width - len(prompts[i]) :] = torch.tensor(prompts[i], dtype=torch.long)
                    mask[row, width - len(prompts[i]) :] = 1
                placed = to_model_device({"input_ids": ids, "attention_mask": mask}, model)
                generated = model.generate(**placed, generation_config=config)
                for row, i in enumerate(indices):
                    new = generated[row, width:].tolist()
                    if self.end_id in new:
                        new = new[: new.index(self.end_id)]
                    out[i] = self.tokenizer.decode(new, skip_special_tokens=True).strip()
        return out

    def respond(self, model: Any, prompts: Sequence[str]) -> list[str]:
        """Greedy responses to prompt texts: what a user of a trained artifact calls."""
        return self.generate(model, [self.prompt_ids(prompt)[-self.max_length :] for prompt in prompts])

    @staticmethod
    def _batches(examples: Sequence[Example], batch_size: int) -> list[list[int]]:
        lengths = [len(example["input_ids"]) for example in examples]
        return length_batches(lengths, batch_size, shuffle=False, seed=0, bucket=True)


def response_token_losses(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """CE of each next-token prediction, zero where the label is -100; and the mask of counted positions.

    Position t's logits predict token t+1, so logits drop the last position and labels the
    first: shapes ``(batch, length - 1)``.
    """
    import torch

    shifted_logits = logits[:, :-1].float()
    targets = labels[:, 1:]
    losses = torch.nn.functional.cross_entropy(
        shifted_logits.reshape(-1, shifted_logits.shape[-1]),
        targets.reshape(-1),
        ignore_index=IGNORE_INDEX,
        reduction="none",
    ).view(targets.shape)
    return losses, targets != IGNORE_INDEX
