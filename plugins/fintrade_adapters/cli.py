"""The ``fintrade train``, ``fintrade evaluate``, ``fintrade ablate`` and ``fintrade compare`` commands.

This module is imported while the CLI starts, so it imports only typer and fintrade's light
modules; torch, transformers and peft load inside the command functions.

The commands are the top level: each takes the process registry once (:func:`_registry`) and
hands it down with the training values (``registry``) or as an argument, so that nothing
below looks plugins up for itself.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fintrade.errors import ConfigError
from fintrade.models.sources import quiet_libraries
from fintrade_adapters.errors import TrainingFailedError, one_line_failures

if TYPE_CHECKING:
    from fintrade.registry import Registry

MODEL_HELP = "Base model: an alias (minilm, smollm2, mpnet), a local folder, or a hub id (owner/name)."
OPTION_HELP = "Any training option as key=value (repeatable); dataset.KEY=VALUE goes to the dataset's loader."
TASK_HELP = "classification, sft (causal-LM fine-tuning) or qa (extractive QA); default: the dataset's task."
# Metrics tables show, in this order, those a task reports (classification: accuracy and F1; QA: exact match, F1).
METRIC_COLUMNS = (
    ("accuracy", "accuracy"),
    ("macro F1", "macro_f1"),
    ("weighted F1", "weighted_f1"),
    ("exact match", "exact_match"),
    ("F1", "f1"),
    ("token accuracy", "token_accuracy"),
    ("perplexity", "perplexity"),
)
TEACHER_HELP = "Distillation teacher: an artifact from `fintrade train`, or a fine-tuned sequence classifier."

# Options that train, ablate and compare share: one definition, one help text.
Model = Annotated[str | None, typer.Option("--model", help=MODEL_HELP)]
Dataset = Annotated[str | None, typer.Option("--dataset", help="Labelled dataset name (see `fintrade plugins`).")]
TrainingOptions = Annotated[list[str] | None, typer.Option("--option", "-o", help=OPTION_HELP)]
ConfigFile = Annotated[Path | None, typer.Option("--config", help="A .json or .toml file of training options.")]
Epochs = Annotated[float | None, typer.Option("--epochs", help="Passes over the training split (default 1).")]
MaxSteps = Annotated[int | None, typer.Option("--max-steps", help="Stop after this many optimizer steps.")]
LearningRate = Annotated[float | None, typer.Option("--lr", help="Peak learning rate (default per method).")]
BatchSize = Annotated[int | None, typer.Option("--batch-size", help="Examples per batch (default 16).")]
MaxLength = Annotated[
    int | None, typer.Option("--max-length", help="Truncate texts to this many tokens (default 128).")
]
Seed = Annotated[int | None, typer.Option("--seed", help="Seed for the split, the head and the batches (default 0).")]
Limit = Annotated[int | None, typer.Option("--limit", help="Use at most N rows of the dataset (quick runs).")]
DEVICE_HELP = "Where to train: auto (a CUDA GPU when torch sees one; the default), cpu, cuda or cuda:N."


def _registry() -> Registry:
    """The process registry: looked up here, at the top, and passed to everything below."""
    from fintrade.registry import get_registry

    return get_registry()


def _training_values(
    *,
    config: Path | None,
    options: list[str],
    flags: dict[str, Any],
    registry: Registry,
) -> dict[str, Any]:
    """Config file, then --option pairs, then explicit flags: the later ones win; plus ``registry``."""
    from fintrade_adapters.config import REGISTRY_KEY, parse_options, read_config_file

    values: dict[str, Any] = read_config_file(config) if config else {}
    parsed = parse_options(options)
    if "dataset_options" in parsed:
        values["dataset_options"] = {**values.get("dataset_options", {}), **parsed.pop("dataset_options")}
    values |= parsed
    values |= {key: value for key, value in flags.items() if value is not None}
    values.setdefault("command", shlex.join(["fintrade", *sys.argv[1:]]))
    values.setdefault("progress", sys.stderr.isatty())
    values[REGISTRY_KEY] = registry
    return values


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _print_table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(_fmt(cell) for cell in row))
    Console().print(table)


@one_line_failures("train")
def train(
    model: Model = None,
    method: str | None = typer.Option(
        None, "--method", help="Adapter method: lora, qlora, prefix, ia3, distill (default lora)."
    ),
    dataset: Dataset = None,
    output: Path | None = typer.Option(None, "--output", help="Artifact directory to write."),
    task: str | None = typer.Option(None, "--task", help=TASK_HELP),
    teacher: str | None = typer.Option(None, "--teacher", help=TEACHER_HELP),
    option: TrainingOptions = None,
    config: ConfigFile = None,
    epochs: Epochs = None,
    max_steps: MaxSteps = None,
    lr: LearningRate = None,
    batch_size: BatchSize = None,
    max_length: MaxLength = None,
    rank: int | None = typer.Option(None, "--rank", help="LoRA rank (default 8)."),
    alpha: int | None = typer.Option(None, "--alpha", help="LoRA alpha (default 16)."),
    dropout: float | None = typer.Option(None, "--dropout", help="LoRA dropout (default 0.1)."),
    seed: Seed = None,
    split: str | None = typer.Option(None, "--split", help="stratified (default) or time (needs dates)."),
    limit: Limit = None,
    device: str | None = typer.Option(None, "--device", help=DEVICE_HELP),
    merge: bool = typer.Option(
        False, "--merge", help="Also write OUTPUT/merged, a full model with the adapter merged."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print the manifest as JSON."),
) -> None:
    """Fine-tune a base model with an adapter method on a labelled dataset; write a PEFT artifact."""
    quiet_libraries()
    registry = _registry()
    flags: dict[str, Any] = {"model": model, "method": method, "dataset": dataset}
    flags |= {"output": str(output) if output else None, "teacher": teacher, "task": task, "split": split}
    flags |= dict(
        epochs=epochs, max_steps=max_steps, lr=lr, batch_size=batch_size, max_length=max_length, seed=seed, limit=limit
    )
    flags |= {"rank": rank, "alpha": alpha, "dropout": dropout, "merge": merge or None, "device": device}
    values = _training_values(config=config, options=option or [], flags=flags, registry=registry)
    values.setdefault("method", "lora")
    adapter = registry.adapter_methods.get(str(values["method"]))
    path = Path(adapter.train(values))
    manifest_file = path / "fintrade_manifest.json"
    manifest = json.loads(manifest_file.read_text()) if manifest_file.is_file() else {}
    if json_output:
        print(json.dumps(manifest, indent=2, default=str))
        return
    metrics = manifest.get("metrics", {})
    splits = {name: metrics.get(name) or {} for name in ("validation", "test")}
    shown = [(h, k) for h, k in METRIC_COLUMNS[:2] + METRIC_COLUMNS[3:5] if any(k in m for m in splits.values())]
    rows = [[name, split.get("loss"), *(split.get(key) for _, key in shown)] for name, split in splits.items()]
    base_model = manifest.get("base_model", {}).get("name", values.get("model"))
    _print_table(
        f"{manifest.get('method', values['method'])} on {base_model}",
        ["split", "loss", *(header for header, _ in shown)],
        rows,
    )
    parameters = manifest.get("parameters", {})
    print(
        f"artifact: {path}  trainable {parameters.get('trainable', '?')} of {parameters.get('total', '?')} parameters, "
        f"{metrics.get('steps', '?')} steps, train loss {_fmt(metrics.get('train_loss'))}"
    )
    if "merged" in manifest:
        merged = manifest["merged"]
        print(f"merged: {path / merged['path']} (max |logit difference| {merged['max_abs_logit_difference']:.2e})")


@one_line_failures("evaluate")
def evaluate(
    artifact: Path = typer.Argument(..., help="An artifact directory written by `fintrade train`."),
    dataset: str | None = typer.Option(None, "--dataset", help="Dataset to score (default: the training dataset)."),
    split: str = typer.Option("test", "--split", help="test, validation or train of the training split; or all rows."),
    option: list[str] = typer.Option([], "--option", "-o", help="Dataset option as key=value (repeatable)."),
    limit: int | None = typer.Option(None, "--limit", help="Score at most N rows."),
    batch_size: int = typer.Option(32, "--batch-size", help="Examples per batch."),
    json_output: bool = typer.Option(False, "--json", help="Print the metrics as JSON."),
) -> None:
    """Score an adapter artifact: accuracy, macro and weighted F1, confusion matrix (QA: exact match, F1)."""
    from fintrade.models.artifacts import read_manifest
    from fintrade_adapters.config import parse_options
    from fintrade_adapters.evaluation import evaluate_artifact

    quiet_libraries()
    name = dataset or read_manifest(artifact)["dataset"]["name"]
    options = {key.removeprefix("dataset."): value for key, value in parse_options(option).items()}
    options |= options.pop("dataset_options", {})
    metrics = evaluate_artifact(
        artifact, name, split=split, options=options or None, batch_size=batch_size, limit=limit, registry=_registry()
    )
    if json_output:
        print(json.dumps(metrics, indent=2))
        return
    _print_table(
        f"{artifact} on {name} ({metrics['split']}, {metrics['n']} rows)",
        ["metric", "value"],
        [[header, metrics[key]] for header, key in METRIC_COLUMNS if key in metrics] + [["loss", metrics["loss"]]],
    )
    if "confusion_matrix" not in metrics:  # QA or generation on free-form answers
        return
    labels = metrics["labels"]
    _print_table(
        "confusion matrix (rows: true, columns: predicted)",
        ["", *labels],
        [[label, *row] for label, row in zip(labels, metrics["confusion_matrix"], strict=True)],
    )


@one_line_failures("ablate")
def ablate(
    model: Model = None,
    method: str = typer.Option("lora", "--method", help="A LoRA-type method: lora or qlora."),
    dataset: Dataset = None,
    ranks: str = typer.Option("4,8,16", "--ranks", help="Comma-separated LoRA ranks."),
    output: Path = typer.Option(Path("out/ablate"), "--output", help="Folder for one artifact per rank."),
    option: TrainingOptions = None,
    config: ConfigFile = None,
    epochs: Epochs = None,
    max_steps: MaxSteps = None,
    lr: LearningRate = None,
    batch_size: BatchSize = None,
    max_length: MaxLength = None,
    seed: Seed = None,
    limit: Limit = None,
    json_output: bool = typer.Option(False, "--json", help="Print the rows as JSON."),
) -> None:
    """Train the same adapter at several LoRA ranks; one table of parameters, losses and metrics."""
    from fintrade_adapters.ablation import ablate_ranks
    from fintrade_adapters.methods import get_method

    quiet_libraries()
    if get_method(method).name not in ("lora", "qlora"):
        raise ConfigError(f"ablate --ranks needs a LoRA-type method (lora, qlora), not {method!r}")
    try:
        rank_list = [int(part) for part in ranks.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"--ranks must be comma-separated integers, got {ranks!r}") from None
    flags: dict[str, Any] = {"model": model, "method": method, "dataset": dataset, "output": str(output)}
    flags |= dict(
        epochs=epochs, max_steps=max_steps, lr=lr, batch_size=batch_size, max_length=max_length, seed=seed, limit=limit
    )
    values = _training_values(config=config, options=option or [], flags=flags, registry=_registry())
    rows = ablate_ranks(values, rank_list, output)
    if json_output:
        print(json.dumps(rows, indent=2))
        return
    columns = ["rank", "trainable params", "train loss", "eval loss", "accuracy", "macro F1"]
    keys = ["rank", "trainable_parameters", "train_loss", "eval_loss", "accuracy", "macro_f1"]
    _print_table(
        f"{method} rank ablation ({rows[0]['evaluated_on']} split)", columns, [[r[k] for k in keys] for r in rows]
    )


@one_line_failures("compare")
def compare(
    model: Model = None,
    dataset: Dataset = None,
    methods: str = typer.Option("lora,qlora,prefix,distill", "--methods", help="Comma-separated adapter methods."),
    teacher: str | None = typer.Option(
        None, "--teacher", help=TEACHER_HELP + " Default: the lora row's artifact, else a LoRA teacher trained first."
    ),
    output: Path = typer.Option(Path("out/compare"), "--output", help="Folder for one artifact per method."),
    option: TrainingOptions = None,
    config: ConfigFile = None,
    epochs: Epochs = None,
    max_steps: MaxSteps = None,
    lr: LearningRate = None,
    batch_size: BatchSize = None,
    max_length: MaxLength = None,
    seed: Seed = None,
    limit: Limit = None,
    json_output: bool = typer.Option(False, "--json", help="Print the rows as JSON."),
) -> None:
    """Train several adapter methods on the same data; one table of metric, parameters, peak memory and time."""
    from fintrade_adapters.compare import compare_methods, parse_methods

    quiet_libraries()
    method_list = parse_methods(methods)
    flags: dict[str, Any] = {"model": model, "dataset": dataset, "output": str(output)}
    flags |= dict(
        epochs=epochs, max_steps=max_steps, lr=lr, batch_size=batch_size, max_length=max_length, seed=seed, limit=limit
    )
    values = _training_values(config=config, options=option or [], flags=flags, registry=_registry())
    teacher = teacher or values.pop("teacher", None)
    rows = compare_methods(values, method_list, output, teacher=teacher)
    finished = [row for row in rows if row["status"] == "finished"]
    failed = [row for row in rows if row["status"] == "failed"]
    if json_output:
        print(json.dumps(rows, indent=2))
    elif finished:
        columns = ["method", "accuracy", "macro F1", "trainable params", "peak memory MB", "wall s", "train s"]
        table = [
            [row["method"], row["accuracy"], row["macro_f1"], row["trainable_parameters"],
             f"{row['peak_memory_mb']:.0f}", f"{row['seconds']:.1f}", f"{row['train_seconds']:.1f}"]
            for row in finished
        ]  # fmt: skip
        _print_table(f"methods on {values.get('model')} ({finished[0]['evaluated_on']} split)", columns, table)
        for row in finished:
            if "teacher" in row:
                print(f"distill teacher: {row['teacher']} ({row['teacher_source']})")
    if failed:
        if not json_output:
            for row in failed:
                print(f"{row['method']}: failed: {row['error']}")
        names = ", ".join(row["method"] for row in failed)
        raise TrainingFailedError(f"compare: {len(failed)} of {len(rows)} method(s) failed ({names}); see above")


def register(app: typer.Typer) -> None:
    """Add the four commands to the root app."""
    app.command("train")(train)
    app.command("evaluate")(evaluate)
    app.command("ablate")(ablate)
    app.command("compare")(compare)
