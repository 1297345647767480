"""Benchmark: fine-tuning with fintrade's adapters plugin (issue 4).

Three parts, each runnable alone; each writes bench/results/training_<part>.json.

``accuracy``
    MiniLM + LoRA trained by ``fintrade train`` itself (a subprocess of the CLI, so exactly the
    code path users run) on Twitter Financial News (our own stratified 80/10/10 split of the
    published train split; a LoRA teacher, then a LoRA student distilled from it) and on
    Financial PhraseBank AllAgree (read in place from ../shared/data by the ``phrasebank``
    dataset; never copied). Reports held-out test accuracy and macro F1, epochs and time.
    Targets: at least 0.85 on tweets, 0.93 on PhraseBank.
``throughput``
    Training tokens/s of fintrade's loop (``fintrade_adapters.training.fit`` on a model built by
    the runner) against a bare peft + torch loop written here, on the same model, LoRA
    configuration, tweets, batches (the same index lists, padded to the batch's longest), steps
    and schedule. The two alternate in rounds after a warm-up round; the ratio is taken within
    each round. Target: fintrade at least 0.9x the bare loop.
``memory``
    Peak resident memory of LoRA and of QLoRA (4-bit NF4) on SmolLM2-135M as a sequence
    classifier, each in its own subprocess, built and trained for a few steps on the same batches
    by fintrade's runner and loop. Reports the peak while loading, the peak while training, the
    process's whole peak (``ru_maxrss`` from ``wait4``) and the bytes the parameters occupy.

    .venv/bin/python bench/bench_training.py accuracy --dataset phrasebank
    .venv/bin/python bench/bench_training.py accuracy --dataset twitter-fin
    .venv/bin/python bench/bench_training.py throughput
    .venv/bin/python bench/bench_training.py memory
    .venv/bin/python bench/bench_training.py smoke      # every part, tiny, nothing written to results
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
FINTRADE = Path(sys.executable).parent / "fintrade"

TEACHER = "{teacher}"
"""Stands for the teacher stage's output folder in a student's flags."""

# The `fintrade train` flags of each accuracy run (the commands in docs/benchmarks.md).
ACCURACY_RUNS: dict[str, dict[str, Any]] = {
    "phrasebank": {
        "target": 0.93,
        "args": [
            "--model", "minilm", "--method", "lora", "--dataset", "phrasebank",
            "--option", "dataset.agreement=all",
            "--epochs", "8", "--max-length", "96", "--batch-size", "32",
            "--rank", "16", "--alpha", "32", "--lr", "2e-3",
            "--option", "target_modules=query,key,value,dense",
            "--option", "schedule=cosine", "--option", "patience=3",
        ],
    },
    # Two stages: a LoRA teacher, then a LoRA student of the same size distilled from it
    # ("born-again" distillation): the teacher's softened logits carry what it learned about
    # near-misses between classes, which the hard labels alone do not (docs/benchmarks.md).
    "twitter-fin": {
        "target": 0.85,
        "teacher": [
            "--model", "minilm", "--method", "lora", "--dataset", "twitter-fin",
            "--epochs", "10", "--max-length", "64", "--batch-size", "32",
            "--rank", "16", "--alpha", "32", "--lr", "1e-3",
            "--option", "target_modules=query,key,value,dense",
            "--option", "schedule=cosine", "--option", "stop_metric=accuracy", "--option", "patience=3",
        ],
        "args": [
            "--model", "minilm", "--method", "distill", "--teacher", TEACHER, "--dataset", "twitter-fin",
            "--epochs", "6", "--max-length", "64", "--batch-size", "32",
            "--rank", "16", "--alpha", "32", "--lr", "1e-3",
            "--option", "target_modules=query,key,value,dense",
            "--option", "schedule=cosine", "--option", "stop_metric=accuracy", "--option", "patience=3",
        ],
    },
}  # fmt: skip

# Throughput: the tweet configuration, identical for both loops.
THROUGHPUT = {"rank": 8, "alpha": 16, "dropout": 0.1, "targets": ("query", "key", "value", "dense")}
THROUGHPUT |= {"batch_size": 32, "max_length": 64, "lr": 5e-3, "warmup_ratio": 0.06, "max_grad_norm": 1.0}
THROUGHPUT_TARGET = 0.9


def machine() -> dict[str, Any]:
    import torch

    lines = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "")
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "load_average_at_start": os.getloadavg(),
    }


def write_result(name: str, result: dict[str, Any]) -> None:
    """Atomically write bench/results/training_<name>.json."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    target = RESULTS / f"training_{name}.json"
    temporary = target.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(result, indent=2, default=str) + "\n")
    os.replace(temporary, target)
    print(f"wrote {target.relative_to(ROOT)}")


# ---------------------------------------------------------------------------------------------
# accuracy


def accuracy_from_manifest(manifest: dict[str, Any], batch_size: int) -> dict[str, Any]:
    """The figures the write-up reports, read from a fintrade manifest."""
    metrics = manifest["metrics"]
    train_rows = manifest["dataset"]["split_sizes"]["train"]
    steps_per_epoch = -(-train_rows // batch_size)
    test = metrics["test"]
    return {
        "command": manifest["command"],
        "dataset": manifest["dataset"]["name"],
        "dataset_options": manifest["dataset"]["options"],
        "split_sizes": manifest["dataset"]["split_sizes"],
        "test_accuracy": round(test["accuracy"], 4),
        "test_macro_f1": round(test["macro_f1"], 4),
        "test_weighted_f1": round(test["weighted_f1"], 4),
        "test_confusion_matrix": test.get("confusion_matrix"),
        "validation_accuracy": round(metrics["validation"]["accuracy"], 4),
        "epochs_configured": manifest["hyperparameters"]["epochs"],
        "epochs_run": round(metrics["steps"] / steps_per_epoch, 2),
        "best_epoch": round(metrics["best_step"] / steps_per_epoch, 2),
        "stopped_early": metrics["stopped_early"],
        "history": metrics["history"],
        "training_seconds": manifest["training"]["seconds"],
        "training_tokens_per_second": manifest["training"]["tokens_per_second"],
        "parameters": manifest["parameters"],
        "hyperparameters": manifest["hyperparameters"],
    }


def run_accuracy(dataset: str, output: Path, extra: list[str], smoke: bool) -> dict[str, Any]:
    """Train with ``fintrade train`` (a subprocess; first the teacher, if any) and record its manifest."""
    run = ACCURACY_RUNS[dataset]
    conditions = machine()
    started = time.perf_counter()
    teacher, teacher_output = None, output.with_name(f"{output.name}-teacher")
    if "teacher" in run:
        teacher = train([*run["teacher"], *extra, "--output", str(teacher_output), "--json"])
    args = [str(teacher_output) if arg == TEACHER else arg for arg in run["args"]]
    manifest = train([*args, *extra, "--output", str(output), "--json"])
    wall = time.perf_counter() - started
    extra_fields = {"machine": conditions, "load_average_at_end": os.getloadavg()}
    if teacher is not None:
        extra_fields["teacher"] = teacher_summary(teacher)
    return record_accuracy(dataset, manifest, round(wall, 1), smoke, extra_fields)


def train(args: list[str]) -> dict[str, Any]:
    print("$", shlex.join(["fintrade", "train", *args]), flush=True)
    finished = subprocess.run([str(FINTRADE), "train", *args], capture_output=True, text=True, cwd=ROOT)
    if finished.returncode != 0:
        sys.exit(f"fintrade train failed ({finished.returncode}): {finished.stderr.strip()[-2000:]}")
    return json.loads(finished.stdout)  # type: ignore[no-any-return]


def teacher_summary(manifest: dict[str, Any]) -> dict[str, Any]:
    """The teacher's own held-out figures, to show what distillation added."""
    keep = ("command", "test_accuracy", "test_macro_f1", "validation_accuracy", "best_epoch", "training_seconds")
    summary = accuracy_from_manifest(manifest, int(manifest["hyperparameters"]["batch_size"]))
    return {key: summary[key] for key in keep}


def training_flags(command: str) -> list[str]:
    """A ``fintrade train`` command's flags without ``--output DIR`` and ``--json``; a teacher is :data:`TEACHER`."""
    words = shlex.split(command)[2:]
    kept: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word == "--output":
            skip = True
        elif word != "--json":
            kept.append(TEACHER if kept and kept[-1] == "--teacher" else word)
    return kept


def accuracy_from_artifact(dataset: str, manifest_file: Path, note: str) -> dict[str, Any]:
    """Record a run already made by exactly this benchmark's commands (other output folders)."""
    run = ACCURACY_RUNS[dataset]
    manifest = json.loads(manifest_file.read_text())
    if training_flags(manifest["command"]) != run["args"]:
        sys.exit(f"{manifest_file} was not trained with this benchmark's command: {manifest['command']}")
    # The machine, but not this process's threads or load: the run was made elsewhere, earlier.
    here = {key: value for key, value in machine().items() if key in ("cpu", "cores", "python", "torch")}
    extra = {"from_manifest": str(manifest_file), "note": note, "machine": here}
    if "teacher" in run:
        teacher_file = Path(manifest["distillation"]["teacher"]["path"]) / "fintrade_manifest.json"
        teacher = json.loads(teacher_file.read_text())
        if training_flags(teacher["command"]) != run["teacher"]:
            sys.exit(f"the teacher {teacher_file} was not trained with this benchmark's command: {teacher['command']}")
        extra["teacher"] = teacher_summary(teacher)
    return record_accuracy(dataset, manifest, None, smoke=False, extra=extra)


def record_accuracy(
    dataset: str, manifest: dict[str, Any], wall: float | None, smoke: bool, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    target = ACCURACY_RUNS[dataset]["target"]
    batch_size = int(manifest["hyperparameters"]["batch_size"])
    result = accuracy_from_manifest(manifest, batch_size) | {"wall_seconds": wall, "target": target} | (extra or {})
    result["meets_target"] = result["test_accuracy"] >= target
    verdict = "met" if result["meets_target"] else "MISSED"
    print(
        f"{dataset}: test accuracy {result['test_accuracy']:.4f} (target {target}: {verdict}), "
        f"macro F1 {result['test_macro_f1']:.4f}, {result['epochs_run']} epochs (best {result['best_epoch']}), "
        f"training {result['training_seconds']:.0f} s"
    )
    if not smoke:
        previous = RESULTS / "training_accuracy.json"
        runs = json.loads(previous.read_text())["runs"] if previous.is_file() else {}
        runs[dataset] = result | {"recorded_at": time.strftime("%Y-%m-%d %H:%M:%S")}
        write_result("accuracy", {"benchmark": "bench/bench_training.py accuracy", "runs": runs})
    return result


# ---------------------------------------------------------------------------------------------
# throughput


def tweet_frame(rows: int) -> Any:
    """The first ``rows`` of our stratified training split of the tweets (seed 0)."""
    from fintrade_adapters.data import prepare

    return prepare("twitter-fin", {}, seed=0).train.head(rows).reset_index(drop=True)


def fintrade_model(labels: tuple[str, ...], pad_token_id: int) -> Any:
    """MiniLM + LoRA built the way ``fintrade train`` builds it."""
    from fintrade_adapters.config import TrainConfig
    from fintrade_adapters.methods import adapt, get_method
    from fintrade_adapters.models import head_modules, resolve_model
    from fintrade_adapters.runner import load_base
    from fintrade_adapters.training import seed_everything

    config = TrainConfig.from_mapping(
        {
            "model": "minilm",
            "dataset": "twitter-fin",
            "output": "unused",
            "rank": THROUGHPUT["rank"],
            "alpha": THROUGHPUT["alpha"],
            "dropout": THROUGHPUT["dropout"],
            "target_modules": THROUGHPUT["targets"],
        }
    )
    source = resolve_model("minilm")
    seed_everything(0)
    base = load_base(source, "bert", labels, config, pad_token_id)
    return adapt(base, get_method("lora"), config, "bert", head_modules("bert", base))


def bare_model(path: str, labels: tuple[str, ...]) -> Any:
    """The same model and LoRA configuration as a user writes it with transformers + peft."""
    import torch
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import AutoModelForSequenceClassification

    torch.manual_seed(0)
    base = AutoModelForSequenceClassification.from_pretrained(path, num_labels=len(labels), dtype=torch.float32)
    config = LoraConfig(
        task_type=TaskType.SEQ_CLS,
        r=THROUGHPUT["rank"],
        lora_alpha=THROUGHPUT["alpha"],
        lora_dropout=THROUGHPUT["dropout"],
        target_modules=list(THROUGHPUT["targets"]),
        modules_to_save=["classifier", "pooler"],
    )
    return get_peft_model(base, config)


def bare_loop(model: Any, tokenizer: Any, features: list[dict[str, Any]], batches: list[list[int]]) -> int:
    """A plain peft + torch training loop over ``batches``; returns the real (unpadded) tokens seen."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    steps = len(batches)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=THROUGHPUT["lr"])
    scheduler = get_linear_schedule_with_warmup(optimizer, int(THROUGHPUT["warmup_ratio"] * steps), steps)
    model.train()
    tokens = 0
    for indices in batches:
        batch = tokenizer.pad([features[i] for i in indices], return_tensors="pt")  # what DataCollatorWithPadding does
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, THROUGHPUT["max_grad_norm"])
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        loss.item()
        tokens += int(batch["attention_mask"].sum())
    return tokens


def run_throughput(steps: int, rounds: int, smoke: bool, threads: int | None = None) -> dict[str, Any]:
    import torch
    from fintrade_adapters.batching import length_batches
    from fintrade_adapters.data import SENTIMENT_LABELS
    from fintrade_adapters.models import load_tokenizer, resolve_model
    from fintrade_adapters.tasks import SequenceClassificationTask
    from fintrade_adapters.training import LoopOptions, fit

    if threads:
        torch.set_num_threads(threads)
    conditions = machine()
    source = resolve_model("minilm")
    tokenizer = load_tokenizer(source)
    batch_size, max_length = THROUGHPUT["batch_size"], THROUGHPUT["max_length"]
    frame = tweet_frame(batch_size * steps)
    task = SequenceClassificationTask(tokenizer, SENTIMENT_LABELS, max_length)
    examples = task.encode(frame)
    # The bare loop's data: tokenized once, padded per batch by the tokenizer.
    encoded = tokenizer(frame["text"].astype(str).tolist(), truncation=True, max_length=max_length)
    label_ids = [SENTIMENT_LABELS.index(label) for label in frame["label"]]
    features = [
        {"input_ids": ids, "attention_mask": mask, "labels": label}
        for ids, mask, label in zip(encoded["input_ids"], encoded["attention_mask"], label_ids, strict=True)
    ]
    assert [f["input_ids"] for f in features] == [e["input_ids"] for e in examples], "the two loops' tokens differ"
    lengths = [len(example["input_ids"]) for example in examples]
    pad = int(tokenizer.pad_token_id or 0)
    ours = fintrade_model(SENTIMENT_LABELS, pad)
    theirs = bare_model(source.path, SENTIMENT_LABELS)
    trainable = sum(p.numel() for p in ours.parameters() if p.requires_grad)
    assert trainable == sum(p.numel() for p in theirs.parameters() if p.requires_grad), "LoRA configurations differ"

    def options(seed: int, bucket: bool) -> LoopOptions:
        return LoopOptions(
            lr=THROUGHPUT["lr"],
            max_steps=steps,
            batch_size=batch_size,
            warmup_ratio=THROUGHPUT["warmup_ratio"],
            max_grad_norm=THROUGHPUT["max_grad_norm"],
            schedule="linear",
            patience=None,
            bucket=bucket,
            seed=seed,
            progress=False,
        )

    def run_fintrade(seed: int, bucket: bool) -> tuple[float, float, int]:
        wall, cpu = time.perf_counter(), time.process_time()
        result = fit(ours, task, examples, [], options(seed, bucket))
        return time.perf_counter() - wall, time.process_time() - cpu, result.tokens

    def run_bare(seed: int, bucket: bool) -> tuple[float, float, int]:
        # The very batches fit draws for this seed: same examples, same padding width.
        batches = length_batches(lengths, batch_size, shuffle=True, seed=seed, bucket=bucket)[:steps]
        wall, cpu = time.perf_counter(), time.process_time()
        tokens = bare_loop(theirs, tokenizer, features, batches)
        return time.perf_counter() - wall, time.process_time() - cpu, tokens

    modes = {"unbucketed": False, "bucketed": True}
    # runs[mode][contender] = [(wall s, cpu s, tokens) per measured round]
    runs: dict[str, dict[str, list[tuple[float, float, int]]]] = {mode: {"fintrade": [], "bare": []} for mode in modes}
    for round_number in range(rounds + 1):  # round 0 warms up and is discarded
        for mode, bucket in modes.items():
            contenders = [("fintrade", run_fintrade), ("bare", run_bare)]
            if round_number % 2:
                contenders.reverse()
            seen = {}
            for name, work in contenders:
                wall, cpu, tokens = seen[name] = work(round_number, bucket)
                if round_number:
                    runs[mode][name].append((wall, cpu, tokens))
                    print(
                        f"round {round_number} {mode:10s} {name:8s} {wall:7.2f} s wall {cpu:7.2f} s CPU "
                        f"{tokens / wall:6.0f} tokens/s",
                        flush=True,
                    )
            assert seen["fintrade"][2] == seen["bare"][2], f"the loops saw different tokens ({mode})"
    summary: dict[str, Any] = {}
    for mode in modes:
        ours_runs, bare_runs = runs[mode]["fintrade"], runs[mode]["bare"]
        tokens = ours_runs[0][2]
        row: dict[str, Any] = {"tokens_per_run": tokens, "padded_tokens_per_run": steps * batch_size * max_length}
        for clock, index in (("wall", 0), ("cpu", 1)):
            mine, theirs_s = [r[index] for r in ours_runs], [r[index] for r in bare_runs]
            ratios = [b / f for f, b in zip(mine, theirs_s, strict=True)]  # speed ratio: >1 means fintrade faster
            row[clock] = {
                "fintrade_s": [round(x, 3) for x in mine],
                "bare_s": [round(x, 3) for x in theirs_s],
                "fintrade_tokens_per_s": round(tokens / statistics.median(mine), 1),
                "bare_tokens_per_s": round(tokens / statistics.median(theirs_s), 1),
                "fintrade_examples_per_s": round(steps * batch_size / statistics.median(mine), 2),
                "bare_examples_per_s": round(steps * batch_size / statistics.median(theirs_s), 2),
                "ratio_per_round": [round(r, 3) for r in ratios],
                "ratio_median": round(statistics.median(ratios), 3),
            }
            print(
                f"{mode} ({clock}): fintrade {row[clock]['fintrade_tokens_per_s']:.0f} tokens/s, bare "
                f"{row[clock]['bare_tokens_per_s']:.0f} tokens/s, fintrade/bare speed {row[clock]['ratio_median']:.3f} "
                f"(rounds {row[clock]['ratio_per_round']})"
            )
        summary[mode] = row
    bucketed_gain = statistics.median(
        u[0] / b[0] for u, b in zip(runs["unbucketed"]["fintrade"], runs["bucketed"]["fintrade"], strict=True)
    )
    result = {
        "benchmark": "bench/bench_training.py throughput",
        "model": "minilm",
        "config": {**THROUGHPUT, "targets": list(THROUGHPUT["targets"]), "steps": steps, "rounds": rounds},
        "trainable_parameters": trainable,
        "modes": summary,
        "fintrade_bucketed_over_unbucketed_speed": round(bucketed_gain, 3),
        "target": THROUGHPUT_TARGET,
        "meets_target": all(summary[mode]["wall"]["ratio_median"] >= THROUGHPUT_TARGET for mode in modes),
        "machine": conditions,
        "load_average_at_end": os.getloadavg(),
    }
    if not smoke:
        write_result("throughput", result)
    return result


# ---------------------------------------------------------------------------------------------
# memory


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0: write 5 to clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def parameter_bytes(model: Any) -> dict[str, int]:
    """Bytes held by parameters and buffers (each tensor once), plus 4-bit quantisation state."""
    seen: set[int] = set()
    sizes = {"trainable": 0, "frozen": 0, "buffers": 0, "quant_state": 0}
    for parameter in model.parameters():
        if parameter.data_ptr() in seen:
            continue
        seen.add(parameter.data_ptr())
        sizes["trainable" if parameter.requires_grad else "frozen"] += parameter.numel() * parameter.element_size()
        state = getattr(parameter, "quant_state", None)
        for tensor in _quant_tensors(state):
            if tensor.data_ptr() not in seen:
                seen.add(tensor.data_ptr())
                sizes["quant_state"] += tensor.numel() * tensor.element_size()
    for buffer in model.buffers():
        if buffer.data_ptr() not in seen:
            seen.add(buffer.data_ptr())
            sizes["buffers"] += buffer.numel() * buffer.element_size()
    sizes["total"] = sum(sizes.values())
    return sizes


def _quant_tensors(state: Any) -> list[Any]:
    if state is None:
        return []
    tensors = [getattr(state, name, None) for name in ("absmax", "code")]
    nested = getattr(state, "state2", None)
    return [t for t in tensors if t is not None] + _quant_tensors(nested)


def release_mapped_weights(model: Any) -> None:
    """Copy every tensor that is not 4-bit into memory of its own (see memory_child)."""
    import gc

    import bitsandbytes as bnb
    import torch

    done: set[int] = set()
    with torch.no_grad():
        for module in model.modules():
            for parameter in module.parameters(recurse=False):
                if id(parameter) not in done and not isinstance(parameter, bnb.nn.Params4bit):
                    done.add(id(parameter))
                    parameter.data = parameter.data.clone()
            for name, buffer in list(module.named_buffers(recurse=False)):
                if buffer is not None:
                    module._buffers[name] = buffer.clone()
    gc.collect()


def _memory_snapshot() -> dict[str, float]:
    """Resident memory now (MiB): total, anonymous (heap) and file-backed (mapped weight files)."""
    fields = {"VmRSS": "rss", "RssAnon": "anon", "RssFile": "file", "VmHWM": "peak"}
    return {name: round(_status_kib(field) / 1024, 1) for field, name in fields.items()}


def memory_child(method: str, steps: int, batch_size: int, max_length: int, release: bool) -> None:
    """One method's run; prints one JSON line. Runs in its own process (see run_memory).

    With ``release`` (not something fintrade does; it shows where the memory goes), after
    loading: every weight still backed by the memory-mapped checkpoint file is copied into
    ordinary memory, so that the mapping (all of the fp32 file, which quantising touched) is
    unmapped, then glibc's ``malloc_trim(0)`` hands the heap that loading freed back to the OS.
    """
    import ctypes
    import logging

    import torch

    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    import bitsandbytes  # noqa: F401  (imported before the baseline, so that both methods count it)
    import peft  # noqa: F401
    import transformers  # noqa: F401
    from fintrade_adapters.config import TrainConfig
    from fintrade_adapters.data import SENTIMENT_LABELS
    from fintrade_adapters.methods import adapt, get_method
    from fintrade_adapters.models import head_modules, load_tokenizer, model_type, resolve_model
    from fintrade_adapters.runner import load_base
    from fintrade_adapters.tasks import SequenceClassificationTask
    from fintrade_adapters.training import LoopOptions, fit, seed_everything

    source = resolve_model("smollm2")
    tokenizer = load_tokenizer(source)
    task = SequenceClassificationTask(tokenizer, SENTIMENT_LABELS, max_length)
    examples = task.encode(tweet_frame(batch_size * steps))
    config = TrainConfig.from_mapping(
        {"model": "smollm2", "dataset": "twitter-fin", "output": "unused", "method": method}
    )
    kind = model_type(source)
    stages = {"imported": _memory_snapshot()}
    seed_everything(0)
    started = time.perf_counter()
    base = load_base(source, kind, SENTIMENT_LABELS, config, int(tokenizer.pad_token_id or 0))
    model = adapt(base, get_method(method), config, kind, head_modules(kind, base))
    load_seconds = time.perf_counter() - started
    stages["loaded"] = _memory_snapshot()
    if release:
        release_mapped_weights(model)
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        stages["released"] = _memory_snapshot()
    load_peak = _memory_snapshot()["peak"]  # loading (and releasing) up to here
    reset = _reset_peak()
    options = LoopOptions(lr=2e-4, max_steps=steps, batch_size=batch_size, patience=None, bucket=False, progress=False)
    started = time.perf_counter()
    result = fit(model, task, examples, [], options)
    train_seconds = time.perf_counter() - started
    stages["trained"] = _memory_snapshot()
    train_peak = stages["trained"]["peak"] if reset else None
    out = {
        "method": method,
        "released_after_load": release,
        "torch_threads": torch.get_num_threads(),
        "stages_mib": stages,
        "peak_while_loading_mib": load_peak,
        "peak_while_training_mib": train_peak,
        # The whole process's peak. VmHWM is what ru_maxrss reports, but resetting it between
        # loading and training also resets ru_maxrss, so the two phases' peaks are combined here.
        "peak_mib": max(load_peak, train_peak or 0),
        "parameter_mib": {k: round(v / 2**20, 1) for k, v in parameter_bytes(model).items()},
        "parameters": {"trainable": result.trainable_parameters, "total": result.total_parameters},
        "load_seconds": round(load_seconds, 2),
        "train_seconds": round(train_seconds, 2),
        "steps": result.steps,
        "losses": [round(loss, 4) for loss in result.step_losses],
        "tokens": result.tokens,
    }
    print(json.dumps(out))


def run_memory(steps: int, batch_size: int, max_length: int, smoke: bool) -> dict[str, Any]:
    from fintrade_adapters.models import resolve_model

    resolve_model("smollm2")  # converts the GGUF once, here, so that no child pays for it
    conditions = machine()
    measured: dict[str, Any] = {}
    # LoRA's weights are the mapped checkpoint itself, so releasing them only copies them: the
    # release variant is measured for QLoRA, whose mapped fp32 file is no longer needed.
    for name, method, release in (
        ("lora", "lora", False),
        ("qlora", "qlora", False),
        ("qlora + release", "qlora", True),
    ):
        command = [sys.executable, __file__, "memory-child", method, str(steps), str(batch_size), str(max_length)]
        child = subprocess.run(
            [*command, *(["--release"] if release else [])], capture_output=True, text=True, cwd=ROOT
        )
        if child.returncode != 0:
            sys.exit(f"memory run for {name} failed: {child.stderr.strip()[-2000:]}")
        row = measured[name] = json.loads(child.stdout.strip().splitlines()[-1])
        imported = row["stages_mib"]["imported"]["rss"]
        print(
            f"{name:16s} parameters {row['parameter_mib']['total']:6.1f} MiB | RSS after imports {imported:6.1f} | "
            f"peak loading {row['peak_while_loading_mib']:6.1f} | peak training {row['peak_while_training_mib']} "
            f"| {row['steps']} steps in {row['train_seconds']:.1f} s, losses {row['losses']}"
        )
    lora = measured["lora"]
    ratios = {}
    for name in ("qlora", "qlora + release"):
        qlora = measured[name]
        ratios[f"{name} / lora"] = {
            "peak": _ratio(qlora["peak_mib"], lora["peak_mib"]),
            "peak_while_loading": _ratio(qlora["peak_while_loading_mib"], lora["peak_while_loading_mib"]),
            "peak_while_training": _ratio(qlora["peak_while_training_mib"], lora["peak_while_training_mib"]),
            "peak_while_training_above_imports": _ratio(
                _above_imports(qlora, "peak_while_training_mib"), _above_imports(lora, "peak_while_training_mib")
            ),
            "parameter_memory": _ratio(qlora["parameter_mib"]["total"], lora["parameter_mib"]["total"]),
        }
        print(f"{name} / lora:", ratios[f"{name} / lora"])
    result = {
        "benchmark": "bench/bench_training.py memory",
        "model": "smollm2 (SmolLM2-135M-Instruct, sequence classification, 3 labels)",
        "batch": {"steps": steps, "batch_size": batch_size, "max_length": max_length},
        "runs": measured,
        "ratios": ratios,
        "machine": conditions,
    }
    if not smoke:
        # One entry per batch shape, so that runs with different batches sit side by side.
        previous = RESULTS / "training_memory.json"
        batches = json.loads(previous.read_text()).get("batches", {}) if previous.is_file() else {}
        batches[f"{batch_size}x{max_length}"] = result
        write_result("memory", {"benchmark": "bench/bench_training.py memory", "batches": batches})
    return result


def _above_imports(row: dict[str, Any], key: str) -> float | None:
    value = row[key]
    return None if value is None else value - row["stages_mib"]["imported"]["rss"]


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


# ---------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parts = parser.add_subparsers(dest="part", required=True)
    accuracy = parts.add_parser("accuracy", help="test accuracy of fintrade train (MiniLM + LoRA)")
    accuracy.add_argument("--dataset", choices=sorted(ACCURACY_RUNS), required=True)
    accuracy.add_argument("--output", type=Path, help="artifact directory (default out/bench/<dataset>-lora)")
    accuracy.add_argument(
        "--manifest", type=Path, help="record an artifact already trained with this command instead of training"
    )
    accuracy.add_argument("--note", default="", help="with --manifest: how that run was made (threads, load)")
    throughput = parts.add_parser("throughput", help="fintrade's loop against a bare peft + torch loop")
    throughput.add_argument("--steps", type=int, default=20)
    throughput.add_argument("--rounds", type=int, default=4)
    throughput.add_argument("--threads", type=int, help="torch threads (default: torch's, one per core)")
    memory = parts.add_parser("memory", help="peak memory of QLoRA vs LoRA on SmolLM2")
    memory.add_argument("--steps", type=int, default=3)
    memory.add_argument("--batch-size", type=int, default=8)
    memory.add_argument("--max-length", type=int, default=64)
    child = parts.add_parser("memory-child")  # internal: one method's memory run
    child.add_argument("method")
    child.add_argument("steps", type=int)
    child.add_argument("batch_size", type=int)
    child.add_argument("max_length", type=int)
    child.add_argument("--release", action="store_true")
    parts.add_parser("smoke", help="every part, tiny (a minute), nothing written to bench/results")
    args = parser.parse_args()

    if args.part == "accuracy":
        if args.manifest:
            accuracy_from_artifact(args.dataset, args.manifest, args.note)
        else:
            run_accuracy(args.dataset, args.output or ROOT / "out" / "bench" / args.dataset, [], smoke=False)
    elif args.part == "throughput":
        run_throughput(args.steps, args.rounds, smoke=False, threads=args.threads)
    elif args.part == "memory":
        run_memory(args.steps, args.batch_size, args.max_length, smoke=False)
    elif args.part == "memory-child":
        memory_child(args.method, args.steps, args.batch_size, args.max_length, args.release)
    else:
        with tempfile.TemporaryDirectory() as directory:
            tiny = ["--limit", "300", "--max-steps", "3"]
            run_accuracy("phrasebank", Path(directory) / "pb", tiny, smoke=True)
        run_throughput(steps=2, rounds=1, smoke=True)
        run_memory(steps=1, batch_size=2, max_length=16, smoke=True)


if __name__ == "__main__":
    main()
