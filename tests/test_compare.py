"""``fintrade compare``: methods trained on the same data, one row each; and the peak-memory meter.

Offline and on CPU: the packaged MiniLM on 200 real tweets (``twitter-fin``), a few steps each.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

HEAD = 384 * 384 + 384 + 384 * 3 + 3  # BERT's pooler and the 3-class classifier, trained in full
TINY_FLAGS = ["--model", "minilm", "--dataset", "twitter-fin", "--limit", "200", "--max-steps", "3",
              "--max-length", "32", "--batch-size", "16"]  # fmt: skip


def test_peak_memory_meter_sees_a_torch_allocation() -> None:
    from fintrade_adapters.memory import PeakMemoryMeter

    with PeakMemoryMeter() as meter:
        block = torch.ones(64 * 2**20 // 4)  # 64 MiB of float32, written so that it is resident
        del block
    with PeakMemoryMeter() as quiet:
        small = torch.ones(1024)
        del small
    assert meter.result.method in ("VmHWM", "psutil sampling")
    # The tensor is freed inside the block: only a peak (not the resident size at the end) sees it.
    assert meter.result.peak_increase_bytes >= 60 * 2**20
    assert quiet.result.peak_increase_bytes < 16 * 2**20


def test_compare_gives_one_sane_row_per_method(tmp_path: Path, cli_runner: Any) -> None:
    output = tmp_path / "compare"
    result = cli_runner(["compare", *TINY_FLAGS, "--methods", "distill,lora", "--output", str(output), "--json"])
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [row["method"] for row in rows] == ["distill", "lora"]
    for row in rows:
        assert row["evaluated_on"] == "test" and row["steps"] == 3
        assert 0 <= row["accuracy"] <= 1 and 0 <= row["macro_f1"] <= 1
        assert row["trainable_parameters"] > 0 and row["total_parameters"] > row["trainable_parameters"]
        assert row["peak_memory_mb"] > 0 and row["seconds"] > 0 and row["train_seconds"] > 0
        assert row["seconds"] >= row["train_seconds"]
        manifest = json.loads((Path(row["artifact"]) / "fintrade_manifest.json").read_text())
        assert manifest["method"] == row["method"] and manifest["dataset"]["size"] == 200
    by_method = {row["method"]: row for row in rows}
    # LoRA on query and value of 6 layers at rank 8, plus the head; the distilled student is the same LoRA.
    assert by_method["lora"]["trainable_parameters"] == 12 * 8 * 768 + HEAD
    assert by_method["distill"]["trainable_parameters"] == by_method["lora"]["trainable_parameters"]
    # No --teacher: the lora row (trained first, though listed second) is the teacher.
    assert by_method["distill"]["teacher"] == by_method["lora"]["artifact"]
    assert by_method["distill"]["teacher_source"] == "the lora row"
    assert not (output / "teacher").exists()


def test_compare_trains_a_teacher_when_there_is_no_lora_row_and_prints_a_table(tmp_path: Path, cli_runner: Any) -> None:
    output = tmp_path / "compare"
    # A wide terminal, so that rich does not wrap the column headers.
    result = cli_runner(
        ["compare", *TINY_FLAGS, "--methods", "distill", "--output", str(output)], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.stderr
    assert (output / "teacher" / "fintrade_manifest.json").is_file()
    manifest = json.loads((output / "distill" / "fintrade_manifest.json").read_text())
    assert manifest["distillation"]["teacher"]["path"] == str((output / "teacher").resolve())
    for header in ("method", "accuracy", "macro F1", "trainable params", "peak memory MB", "wall s", "train s"):
        assert header in result.stdout
    assert f"distill teacher: {output / 'teacher'} (LoRA teacher trained for this comparison)" in result.stdout


def test_compare_unknown_method_is_one_line_before_any_training(tmp_path: Path, cli_runner: Any) -> None:
    output = tmp_path / "compare"
    result = cli_runner(["compare", *TINY_FLAGS, "--methods", "lora,lorra", "--output", str(output)])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "error: unknown adapter method 'lorra' (did you mean 'lora'?); known: lora, qlora, prefix, ia3, distill"
    ]
    repeated = cli_runner(["compare", *TINY_FLAGS, "--methods", "lora,prefix,lora", "--output", str(output)])
    assert repeated.stderr.strip().splitlines() == ["error: --methods lists lora more than once"]
    assert not output.exists()


def test_a_failing_method_keeps_the_rows_that_finished(tmp_path: Path, cli_runner: Any) -> None:
    # LoRA-type methods adapt the named modules, which this model lacks, so the lora run fails once
    # the model is loaded; prefix tuning ignores the option and finishes.
    output = tmp_path / "compare"
    args = ["compare", *TINY_FLAGS, "--methods", "prefix,lora", "--option", "target_modules=no_such_module"]
    result = cli_runner([*args, "--output", str(output), "--json"])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == ["error: compare: 1 of 2 method(s) failed (lora); see above"]
    prefix, lora = json.loads(result.stdout)
    assert prefix["method"] == "prefix" and prefix["status"] == "finished" and 0 <= prefix["accuracy"] <= 1
    assert (Path(prefix["artifact"]) / "fintrade_manifest.json").is_file()
    assert lora["method"] == "lora" and lora["status"] == "failed"
    assert lora["error"].startswith("method 'lora' cannot adapt model 'minilm': No modules were targeted")
    table = cli_runner([*args, "--output", str(tmp_path / "again")], env={"COLUMNS": "200"})
    assert table.exit_code == 1 and "prefix" in table.stdout
    assert f"lora: failed: {lora['error']}" in table.stdout.splitlines()
