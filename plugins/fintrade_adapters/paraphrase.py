"""Paraphrases of training sentences from an instruction-tuned causal LM, cached on disk.

Distillation's optional augmentation (``augment=paraphrase``) asks a causal LM (``smollm2`` by
default) to reword each training sentence through the model's own chat template; the
classifier teacher then decides which paraphrases keep their label (see
:mod:`fintrade_adapters.distillation`). Decoding is greedy, so one sentence and one generator
always give the same paraphrase: that is what makes the cache valid. Each result is stored as
``<cache>/paraphrases/<generator>/<sha256(text)[:2]>/<sha256(text)>.json``, where
``<generator>`` names the model and a hash of the prompt and decoding settings; changing any
of them starts a new cache instead of serving stale text.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fintrade.cache import cache_root
from fintrade.manifest import write_json_atomic

PROMPT = (
    "Rewrite this financial news sentence in different words. Keep its meaning and its sentiment. "
    "Reply with the rewritten sentence only.\n\nSentence: {text}"
)
MAX_NEW_TOKENS = 64
# A generator that starts its answer with a label ("Rewritten sentence: ...") still paraphrased.
_LEAD_IN = re.compile(r"^(rewritten sentence|paraphrase|sentence|rewrite)\s*:\s*", re.IGNORECASE)


@dataclass
class ParaphraseCounts:
    """What happened to the sentences given: made now, found in the cache, or unusable."""

    requested: int = 0
    generated: int = 0
    from_cache: int = 0
    unusable: int = 0


def generator_key(generator: str) -> str:
    """The cache folder for ``generator``: its name plus a hash of the prompt and decoding settings."""
    settings = json.dumps({"prompt": PROMPT, "max_new_tokens": MAX_NEW_TOKENS, "decoding": "greedy", "stop": "\n"})
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", generator).strip("-") or "generator"
    return f"{slug}-{hashlib.sha256(settings.encode()).hexdigest()[:12]}"


def cache_file(generator: str, text: str, root: Path | None = None) -> Path:
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return (root or cache_root()) / "paraphrases" / generator_key(generator) / digest[:2] / f"{digest}.json"


def clean(original: str, generated: str) -> str | None:
    """The paraphrase in a generation, or None when there is none worth training on.

    Keeps the first non-empty line without a lead-in label or quotes; refuses an empty answer,
    a copy of the original, and a runaway (more than three times the original's length).
    """
    lines = [line.strip() for line in generated.strip().splitlines() if line.strip()]
    if not lines:
        return None
    text, previous = lines[0], ""
    while text != previous:  # small models nest them: 'Rewritten sentence: "Rewritten sentence: ..."'
        previous, text = text, _LEAD_IN.sub("", text).strip().strip("\"'“”").strip()
    if len(text) < 3 or len(text) > 3 * max(len(original), 20):
        return None
    if text.casefold().rstrip(".") == original.strip().casefold().rstrip("."):
        return None
    return text


def paraphrase(
    texts: Sequence[str], generator: str = "smollm2", batch_size: int = 8, cache: Path | None = None
) -> tuple[list[str | None], ParaphraseCounts]:
    """One paraphrase (or None) per text, from the cache where possible; the generator loads only if needed."""
    counts = ParaphraseCounts(requested=len(texts))
    results: list[str | None] = [None] * len(texts)
    missing: list[int] = []
    for position, text in enumerate(texts):
        stored = cache_file(generator, text, cache)
        if stored.is_file():
            results[position] = json.loads(stored.read_text())["paraphrase"]
            counts.from_cache += 1
        else:
            missing.append(position)
    if missing:
        model, tokenizer = load_generator(generator)
        for start in range(0, len(missing), batch_size):
            chunk = missing[start : start + batch_size]
            outputs = generate(model, tokenizer, [texts[i] for i in chunk])
            for position, output in zip(chunk, outputs, strict=True):
                results[position] = clean(texts[position], output)
                # Unusable answers are cached too: asking again would give the same greedy answer.
                record = {"text": texts[position], "generator": generator, "raw": output}
                write_json_atomic(
                    cache_file(generator, texts[position], cache), record | {"paraphrase": results[position]}
                )
        counts.generated = len(missing)
    counts.unusable = sum(result is None for result in results)
    return results, counts


def load_generator(generator: str) -> tuple[Any, Any]:
    """The causal LM and its tokenizer (left padding, for batched generation), in eval mode."""
    import torch
    from transformers import AutoModelForCausalLM

    from fintrade.models.sources import load_kwargs, load_tokenizer, resolve_model
    from fintrade_adapters.errors import UnknownModelError

    source = resolve_model(generator)
    tokenizer = load_tokenizer(source)
    if not getattr(tokenizer, "chat_template", None):
        raise UnknownModelError(
            f"paraphraser {generator!r} has no chat template; use an instruction-tuned causal LM such as smollm2"
        )
    tokenizer.padding_side = "left"
    try:
        model = AutoModelForCausalLM.from_pretrained(source.path, dtype=torch.float32, **load_kwargs(source))
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnknownModelError(f"cannot load paraphraser {generator!r} from {source.path}: {first}") from exc
    model.eval()
    return model, tokenizer


def generate(model: Any, tokenizer: Any, texts: Sequence[str]) -> list[str]:
    """Greedy answers to the paraphrase prompt, one per text (the new tokens only, decoded)."""
    import torch

    prompts = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": PROMPT.format(text=text)}], tokenize=False, add_generation_prompt=True
        )
        for text in texts
    ]
    # The chat template already holds the special tokens.
    batch = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.no_grad():
        output = model.generate(
            **batch,
            max_new_tokens=MAX_NEW_TOKENS,
            do_sample=False,
            # Only the first line is used (clean): stop there instead of generating the rest.
            stop_strings=["\n"],
            tokenizer=tokenizer,
            pad_token_id=tokenizer.pad_token_id,
        )
    new_tokens = output[:, batch["input_ids"].shape[1] :]
    return [str(text) for text in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]
