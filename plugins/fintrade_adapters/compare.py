"""Method comparisons: several adapter methods trained on the same data, one row of results each.

Every run shares the model, dataset, split, seed, limit and loop options; only the method (and
its default learning rate, unless ``lr`` is given) differs. Each row reports the test metrics
(validation when the test split is empty), trainable parameters, the peak memory the run added
(:mod:`fintrade_adapters.memory`: model loading, training, evaluation and saving included) and
its wall time. A method that fails gets a row with ``status: failed`` and the reason; the others
still run (``status: finished``).

Distillation needs a teacher: the one given, else the ``lora`` row's artifact when ``lora`` is
among the methods (it then runs first), else a LoRA teacher trained first under
``OUTPUT/teacher`` with the same settings. Its own time and memory are not in the ``distill``
row; scoring the training rows with it is.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from fintrade.errors import ConfigError, FintradeError
from fintrade_adapters.errors import describe_exception

TEACHER_FOLDER = "teacher"


def parse_methods(text: str) -> list[str]:
    """``"lora,qlora"`` -> ``["lora", "qlora"]``, each a known method, none twice."""
    from fintrade_adapters.methods import get_method

    methods = [part.strip() for part in text.split(",") if part.strip()]
    if not methods:
        raise ConfigError("compare needs at least one method (--methods lora,qlora,prefix,distill)")
    for name in methods:
        get_method(name)
    repeated = sorted({name for name in methods if methods.count(name) > 1})
    if repeated:
        raise ConfigError(f"--methods lists {', '.join(repeated)} more than once")
    return methods


def check_before_training(base_config: Mapping[str, Any], methods: Sequence[str], output: Path) -> None:
    """Everything that can fail without training, checked before the first run starts."""
    from fintrade.models.artifacts import MANIFEST
    from fintrade.models.quantization import require_bitsandbytes
    from fintrade.models.sources import model_type, resolve_model
    from fintrade_adapters.methods import check_supported, get_method

    model = str(base_config.get("model") or "")
    if not model:
        raise ConfigError("compare needs 'model' (--model)")
    kind = model_type(resolve_model(model))
    for name in methods:
        method = get_method(name)
        check_supported(method, kind, model)
        if method.quantized:
            require_bitsandbytes()
    for folder in [*methods, TEACHER_FOLDER]:
        target = output / folder
        if target.is_dir() and any(target.iterdir()) and not (target / MANIFEST).exists():
            raise ConfigError(
                f"output directory {str(target)!r} is not empty and holds no fintrade artifact; choose another --output"
            )


def compare_methods(
    base_config: Mapping[str, Any],
    methods: Sequence[str],
    output: Path,
    teacher: str | None = None,
) -> list[dict[str, Any]]:
    """Train each method (artifacts under ``output/<method>``); returns one row per method, in order."""
    from fintrade_adapters import distillation, runner

    check_before_training(base_config, methods, output)
    if "distill" in methods and teacher is not None:
        from fintrade_adapters.data import SENTIMENT_LABELS

        distillation.resolve_teacher(teacher, SENTIMENT_LABELS, int(base_config.get("max_length") or 128))
    base = {key: value for key, value in base_config.items() if key not in ("method", "output", "teacher")}
    # The lora row doubles as the teacher when none is given: it must exist before distill runs.
    order = sorted(methods, key=lambda name: 0 if (name == "lora" and teacher is None) else 1)
    rows: dict[str, dict[str, Any]] = {}
    for name in order:
        values = {**base, "method": name, "output": str(output / name)}
        train: Callable[[Mapping[str, Any]], Any] = runner.run
        notes: dict[str, Any] = {}
        # One method failing (a library release, memory) must not throw away the rows already trained.
        try:
            if name == "distill":
                values["teacher"], notes = _teacher_for(base, teacher, rows, output)
                train = distillation.run
            rows[name] = {"status": "finished"} | measure_run(name, train, values) | notes
        except Exception as exc:
            reason = str(exc) if isinstance(exc, FintradeError) else describe_exception(exc)
            rows[name] = {"method": name, "status": "failed", "error": reason}
    return [rows[name] for name in methods]


def _teacher_for(
    base: Mapping[str, Any], teacher: str | None, rows: Mapping[str, Mapping[str, Any]], output: Path
) -> tuple[str, dict[str, Any]]:
    """The distillation teacher, and where it came from (given, the lora row, or trained now)."""
    from fintrade_adapters import runner

    if teacher is not None:
        return teacher, {"teacher": teacher, "teacher_source": "given"}
    if rows.get("lora", {}).get("status") == "finished":
        path = str(rows["lora"]["artifact"])
        return path, {"teacher": path, "teacher_source": "the lora row"}
    started = time.perf_counter()
    trained = runner.run({**base, "method": "lora", "output": str(output / TEACHER_FOLDER)})
    seconds = time.perf_counter() - started
    return str(trained.path), {
        "teacher": str(trained.path),
        "teacher_source": "LoRA teacher trained for this comparison",
        "teacher_seconds": round(seconds, 2),
    }


def measure_run(name: str, train: Callable[[Mapping[str, Any]], Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """Run one training with its wall time and peak memory measured; returns its row."""
    from fintrade_adapters.ablation import evaluated_metrics
    from fintrade_adapters.memory import PeakMemoryMeter

    meter = PeakMemoryMeter()
    started = time.perf_counter()
    with meter:
        trained = train(values)
    seconds = time.perf_counter() - started
    manifest = trained.manifest
    evaluated, evaluated_on = evaluated_metrics(manifest)
    peak = meter.result
    row = {
        "method": name,
        "accuracy": evaluated.get("accuracy"),
        "macro_f1": evaluated.get("macro_f1"),
        "eval_loss": evaluated.get("loss"),
        "evaluated_on": evaluated_on,
        "trainable_parameters": manifest["parameters"]["trainable"],
        "total_parameters": manifest["parameters"]["total"],
        "peak_memory_mb": round(peak.peak_increase_bytes / 2**20, 1),
        "memory_measured_by": peak.method,
        "seconds": round(seconds, 2),
        "train_seconds": manifest["training"]["seconds"],
        "steps": manifest["metrics"]["steps"],
        "artifact": str(trained.path),
    }
    if peak.cuda_peak_bytes is not None:
        row["cuda_peak_memory_mb"] = round(peak.cuda_peak_bytes / 2**20, 1)
    # The run's objects go now, not at the next run's start, so they cannot inflate its baseline.
    del trained
    return row
