"""The two response markers of a causal-LM (``sft``) adapter, added to its tokenizer and embeddings.

Training adds them and an artifact is reloaded by adding them again, so both live here, with
the model service: ``<|fin_response|>`` starts from the mean of the ``"\\nAnswer:"`` token rows,
``<|fin_end|>`` from the end-of-sequence row, deterministically, so a reload rebuilds exactly
the rows the adapter was trained on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

RESPONSE_MARKER = "<|fin_response|>"
END_MARKER = "<|fin_end|>"
MARKERS: tuple[str, str] = (RESPONSE_MARKER, END_MARKER)
# The response marker starts from what "the answer follows" already means to the model.
_RESPONSE_SEED_TEXT = "\nAnswer:"


def add_markers(tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """Add the response markers as special tokens (no-op when present); returns their ids."""
    import inspect

    # Keep the tokenizer's own extra special tokens; the keyword was renamed in transformers 5.
    parameters = inspect.signature(tokenizer.add_special_tokens).parameters
    keep = next(
        (
            {name: False}
            for name in ("replace_extra_special_tokens", "replace_additional_special_tokens")
            if name in parameters
        ),
        {},
    )
    tokenizer.add_special_tokens({"additional_special_tokens": list(MARKERS)}, **keep)
    return marker_ids(tokenizer)


def marker_ids(tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """The ids of the response and end markers; an error when the tokenizer lacks them."""
    converted = tokenizer.convert_tokens_to_ids(list(MARKERS))  # a list for a list
    ids = [int(i) for i in (converted if isinstance(converted, list) else [converted])]
    if tokenizer.unk_token_id is not None and tokenizer.unk_token_id in ids:
        raise ValueError(f"the tokenizer has no {MARKERS} tokens; call add_markers first")
    return ids


def resize_for_markers(model: Any, tokenizer: PreTrainedTokenizerBase) -> None:
    """Grow the embeddings to the tokenizer's size and give the marker rows their starting values.

    Works on a freshly loaded base (before or after 4-bit loading: embeddings stay in full
    precision) and is deterministic: the same base and tokenizer always give the same rows.
    """
    if model.get_input_embeddings().weight.shape[0] != len(tokenizer):
        import inspect

        # The new rows' initial values do not matter (overwritten right below), so skip
        # transformers' mean resizing: it samples them from the embeddings' covariance, and says so.
        quiet = "mean_resizing" in inspect.signature(model.resize_token_embeddings).parameters
        model.resize_token_embeddings(len(tokenizer), **({"mean_resizing": False} if quiet else {}))
    init_marker_embeddings(model, tokenizer)


def init_marker_embeddings(model: Any, tokenizer: PreTrainedTokenizerBase) -> None:
    """Response marker = mean of the ``"\\nAnswer:"`` token rows; end marker = the EOS row."""
    import torch

    response_id, end_id = marker_ids(tokenizer)
    seed_ids = tokenizer(_RESPONSE_SEED_TEXT, add_special_tokens=False)["input_ids"]
    eos_id = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else seed_ids[-1]
    layers = [model.get_input_embeddings()]
    output = model.get_output_embeddings()
    if output is not None and output.weight is not layers[0].weight:  # untied: the output rows too
        layers.append(output)
    with torch.no_grad():
        for layer in layers:
            weight = layer.weight
            weight[response_id] = weight[seed_ids].mean(dim=0)
            weight[end_id] = weight[eos_id]
