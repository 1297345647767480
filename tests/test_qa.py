"""Extractive QA: SQuAD metrics, span labelling from offsets, the qa-spans dataset, training on MiniLM.

Offline and on CPU: the packaged all-MiniLM-L6-v2 (``minilm``) with a question-answering head,
small QA files written here, max length 48 and a handful of steps.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from fintrade_adapters.qa import answer_token_span, label_metrics, sentiment_questions  # noqa: E402
from fintrade_adapters.qa_metrics import answer_scores, best_span, exact_match, normalize_answer, token_f1  # noqa: E402

from fintrade.errors import FintradeError  # noqa: E402

FAST = {"max_length": 48, "batch_size": 8, "progress": False, "warmup_ratio": 0.0, "patience": None}
COMPANIES = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell", "Cyberdyne", "Soylent"]
METRICS = ["revenue", "profit", "debt", "cash"]


def qa_rows(n: int = 48, seed: int = 0) -> list[dict[str, Any]]:
    """Contexts stating one figure each; the question asks for it, the answer is the figure."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        company, metric = COMPANIES[i % len(COMPANIES)], METRICS[(i // len(COMPANIES)) % len(METRICS)]
        amount = f"{rng.randint(2, 99)} million euros"
        filler = rng.choice(["The board met on Monday.", "Shares were flat.", "Analysts were surprised."])
        context = f"{filler} {company} reported {metric} of {amount} for the year. The outlook is unchanged."
        rows.append(
            {
                "question": f"How much {metric} did {company} report?",
                "context": context,
                "answer_text": amount,
                "answer_start": context.index(amount),
            }
        )
    return rows


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.fixture(scope="module")
def qa_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("qa") / "figures.jsonl", qa_rows())


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    from fintrade.models.sources import load_tokenizer, resolve_model

    return load_tokenizer(resolve_model("minilm"))


# --- metrics ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("The Quick, Brown Fox!", "quick brown fox"),
        ("  an   answer\tin\nspaces ", "answer in spaces"),
        ("A banana and the apple", "banana and apple"),  # articles go, words containing them stay
        ("U.S. $5.2-million", "us 52million"),  # punctuation is removed, not replaced by spaces
        ("theatre", "theatre"),
    ],
)
def test_squad_normalisation(text: str, normalised: str) -> None:
    assert normalize_answer(text) == normalised


def test_exact_match_and_token_f1_on_hand_examples() -> None:
    assert exact_match("The Apple Inc.", "apple inc") == 1.0
    assert exact_match("apple", "apples") == 0.0
    # 2 of 3 predicted tokens are right, both true tokens found: P 2/3, R 1, F1 0.8.
    assert token_f1("profits rose sharply", "profits rose") == pytest.approx(0.8)
    # Tokens count with multiplicity: predicted [cat, cat] vs [cat]: P 1/2, R 1.
    assert token_f1("the cat the cat", "a cat") == pytest.approx(2 / 3)
    assert token_f1("no overlap", "nothing shared") == 0.0
    assert token_f1("", "") == 1.0
    assert token_f1("the", "answer") == 0.0  # normalises to nothing vs something
    assert answer_scores(["5 million", "the 7 million"], ["5 million", "7 million euros"]) == pytest.approx(
        {"exact_match": 0.5, "f1": (1.0 + 0.8) / 2}
    )


def test_best_span_respects_order_length_and_context() -> None:
    start = torch.tensor([9.0, 0.0, 5.0, 0.0, 0.0, 1.0])
    end = torch.tensor([9.0, 0.0, 0.0, 1.0, 4.0, 3.0])
    context = torch.tensor([False, True, True, True, True, True])
    # Token 0 (CLS) scores highest but is not context; the best allowed span is 2..4.
    assert best_span(start, end, context, max_answer_length=30)[:2] == (2, 4)
    # At most 2 tokens: 2..4 is too long; 2..3 (5 + 1) beats 2..2 (5 + 0) and 5..5 (1 + 3).
    assert best_span(start, end, context, max_answer_length=2)[:2] == (2, 3)
    # An end before its start never wins, however large: 2..1 would score 18; 2..2 (9 + 1) does.
    lone = torch.ones(3, dtype=torch.bool)
    assert best_span(torch.tensor([0.0, 0.0, 9.0]), torch.tensor([0.0, 9.0, 1.0]), lone, 5)[:2] == (2, 2)
    assert best_span(start, end, torch.zeros(6, dtype=torch.bool), 5) == (-1, -1, float("-inf"))


def test_label_metrics_count_non_labels_as_wrong() -> None:
    labels = ("negative", "neutral", "positive")
    metrics = label_metrics(["Positive.", "negative", "shares fell", "neutral"], [2, 0, 0, 2], labels)
    assert metrics["accuracy"] == 0.5
    assert metrics["not_a_label"] == 1
    # negative: P 1, R 1/2 -> F1 2/3; neutral: P 0 -> 0; positive: P 1, R 1/2 -> 2/3.
    assert metrics["macro_f1"] == pytest.approx((2 / 3 + 0 + 2 / 3) / 3)
    assert metrics["confusion_matrix"][0] == [1, 0, 0, 1]  # the "(other)" column holds the non-label


# --- span labelling -----------------------------------------------------------------------------


def test_answer_span_from_synthetic_offsets() -> None:
    # [CLS] q q [SEP] "Net" "profit" "rose" "5" "%" [SEP] over the context "Net profit rose 5%".
    offsets = [(0, 0), (0, 3), (4, 6), (0, 0), (0, 3), (4, 10), (11, 15), (16, 17), (17, 18), (0, 0)]
    sequence_ids = [None, 0, 0, None, 1, 1, 1, 1, 1, None]
    assert answer_token_span(offsets, sequence_ids, 4, 10) == (5, 5)  # "profit"
    assert answer_token_span(offsets, sequence_ids, 16, 18) == (7, 8)  # "5%": two tokens
    assert answer_token_span(offsets, sequence_ids, 0, 15) == (4, 6)  # question tokens share offsets; skipped
    # Truncated window: the context ends at "rose" (token 6); an answer past it is "not here".
    cut = [*offsets[:7], (0, 0)]
    assert answer_token_span(cut, [*sequence_ids[:7], None], 16, 18) == (0, 0)
    assert answer_token_span(cut, [*sequence_ids[:7], None], 11, 17) == (0, 0)  # partly cut off: also no answer
    assert answer_token_span(offsets, [None, 0, 0, None, None, None, None, None, None, None], 4, 10) == (0, 0)


def test_span_labels_on_the_real_tokenizer_map_back_to_the_answer(tokenizer: Any) -> None:
    import pandas as pd
    from fintrade_adapters.qa import QuestionAnsweringTask

    rows = pd.DataFrame(qa_rows(6))
    task = QuestionAnsweringTask(tokenizer, max_length=64)
    for example, answer in zip(task.encode(rows), rows["answer_text"], strict=True):
        assert example["start"] > 0 and example["end"] >= example["start"]
        assert tokenizer.decode(example["input_ids"][example["start"] : example["end"] + 1]) == answer
        assert example["context"][example["offsets"][example["start"]][0] : example["offsets"][example["end"]][1]] == (
            answer
        )
    # A window too short for the answer (the figure comes after 14+ context tokens): labelled CLS.
    short = QuestionAnsweringTask(tokenizer, max_length=20).encode(rows)
    assert all((example["start"], example["end"]) == (0, 0) for example in short)
    assert all(len(example["input_ids"]) == 20 for example in short)


def test_long_questions_leave_room_for_the_context(tokenizer: Any) -> None:
    import pandas as pd
    from fintrade_adapters.qa import QuestionAnsweringTask

    rows = pd.DataFrame([{**qa_rows(1)[0], "question": "why " * 80}])
    (example,) = QuestionAnsweringTask(tokenizer, max_length=32).encode(rows)
    assert len(example["input_ids"]) == 32
    assert sum(pair is not None for pair in example["offsets"]) >= 13  # the context kept half the window


def test_sentiment_rows_become_questions_whose_answer_is_the_label() -> None:
    import pandas as pd

    frame = pd.DataFrame({"text": ["Shares fell.", "Profit rose.", "The AGM is in May."]})
    frame["label"] = ["negative", "positive", "neutral"]
    rows = sentiment_questions(frame, ("negative", "neutral", "positive"))
    assert rows["context"].iloc[0] == "negative. neutral. positive. Shares fell."
    assert set(rows["question"]) == {"What is the financial sentiment of this statement?"}
    for _, row in rows.iterrows():
        start = row["answer_start"]
        assert row["context"][start : start + len(row["answer_text"])] == row["label"]
    assert rows["answer_start"].tolist() == [0, 19, 10]


# --- the qa-spans dataset -----------------------------------------------------------------------


def test_qa_spans_dataset_reads_jsonl_and_csv(qa_file: Path, tmp_path: Path) -> None:
    from fintrade.registry import get_registry

    dataset = get_registry().datasets.get("qa-spans")
    assert dataset.task == "qa"
    frame = dataset.load({"path": str(qa_file)})
    assert list(frame.columns) == ["question", "context", "answer_text", "answer_start", "id"]
    assert len(frame) == 48 and frame["id"].is_unique
    csv_path = tmp_path / "figures.csv"
    with csv_path.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=["q", "context", "answer_text", "answer_start"])
        writer.writeheader()
        for row in qa_rows(5):
            writer.writerow({"q": row["question"], **{k: row[k] for k in ("context", "answer_text", "answer_start")}})
    from_csv = dataset.load({"path": str(csv_path), "question_column": "q"})
    assert from_csv["answer_start"].tolist() == [row["answer_start"] for row in qa_rows(5)]


def test_qa_spans_dataset_errors_name_the_row(tmp_path: Path) -> None:
    from fintrade.registry import get_registry

    load = get_registry().datasets.get("qa-spans").load
    rows = qa_rows(3)
    rows[1] = {**rows[1], "answer_start": rows[1]["answer_start"] + 1}
    path = write_jsonl(tmp_path / "off.jsonl", rows)
    with pytest.raises(FintradeError) as error:
        load({"path": str(path)})
    found = rows[1]["context"][rows[1]["answer_start"] : rows[1]["answer_start"] + len(rows[1]["answer_text"])]
    assert str(error.value) == (
        f"dataset 'qa-spans', file {path}: line 2: the context at answer_start {rows[1]['answer_start']} reads "
        f"{found!r}, not the answer {rows[1]['answer_text']!r}"
    )
    path = write_jsonl(tmp_path / "missing.jsonl", [{k: v for k, v in rows[0].items() if k != "context"}])
    with pytest.raises(FintradeError, match=r"missing column\(s\) 'context'"):
        load({"path": str(path)})
    path = write_jsonl(tmp_path / "empty.jsonl", [{**rows[0], "answer_text": " "}])
    with pytest.raises(FintradeError, match="line 1 has no answer_text"):
        load({"path": str(path)})
    with pytest.raises(FintradeError, match="unknown option 'question_col'"):
        load({"path": str(path), "question_col": "q"})


def test_a_qa_dataset_cannot_train_a_classifier(qa_file: Path, tmp_path: Path) -> None:
    from fintrade_adapters.runner import run

    values = {"model": "minilm", "dataset": "qa-spans", "dataset_options": {"path": str(qa_file)}, **FAST}
    with pytest.raises(FintradeError) as error:
        run({**values, "task": "classification", "output": str(tmp_path / "x")})
    assert str(error.value) == "dataset 'qa-spans' is for task 'qa'; sentiment training needs 'sentiment'"
    from fintrade_adapters.data import load_frame

    with pytest.raises(FintradeError) as error:
        load_frame("qa-spans", {"path": str(qa_file)}, task="sft")
    assert str(error.value) == (
        "dataset 'qa-spans' is for task 'qa'; --task sft needs a sentiment dataset or one for task 'sft'"
    )
    with pytest.raises(FintradeError, match="unknown task 'qaa' \\(did you mean 'qa'\\?\\)"):
        run({**values, "task": "qaa", "output": str(tmp_path / "x")})
    with pytest.raises(FintradeError, match="stop_metric 'accuracy' is not reported by --task qa"):
        run({**values, "stop_metric": "accuracy", "output": str(tmp_path / "x")})


# --- training on MiniLM -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def qa_run(qa_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from fintrade_adapters.runner import run

    output = tmp_path_factory.mktemp("qa-lora") / "artifact"
    values = {"model": "minilm", "dataset": "qa-spans", "dataset_options": {"path": str(qa_file)}, **FAST}
    return run({**values, "output": str(output), "max_steps": 16, "lr": 1e-2})


def test_qa_loss_falls_and_metrics_are_reported(qa_run: Any) -> None:
    losses = qa_run.result.step_losses
    assert len(losses) == 16
    # A fresh qa_outputs head starts near ln(window) ~ 3.5 per end; the figures are easy to find.
    assert losses[0] > 3.0
    assert sum(losses[-4:]) / 4 < 0.5
    manifest = qa_run.manifest
    assert manifest["task"] == "extractive-qa"
    assert manifest["hyperparameters"]["task"] == "qa"
    assert manifest["labels"] == []
    test = manifest["metrics"]["test"]
    assert {"exact_match", "f1", "loss", "n"} <= set(test)
    assert 0.0 <= test["exact_match"] <= test["f1"] <= 1.0
    assert test["exact_match"] >= 0.8  # held-out figures found exactly
    assert manifest["dataset"]["split_sizes"] == {"train": 38, "validation": 5, "test": 5}


def test_qa_artifact_reloads_in_plain_peft_with_identical_logits(qa_run: Any) -> None:
    from peft import PeftModel
    from safetensors import safe_open
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from fintrade.models.sources import resolve_model

    path = qa_run.path
    with safe_open(str(path / "adapter_model.safetensors"), "pt") as weights:
        assert any("qa_outputs" in key for key in weights.keys())  # noqa: SIM118
    base = AutoModelForQuestionAnswering.from_pretrained(resolve_model("minilm").path)
    reloaded = PeftModel.from_pretrained(base, str(path)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    row = qa_rows(1, seed=5)[0]
    batch = tokenizer([row["question"]], [row["context"]], return_tensors="pt")
    qa_run.model.eval()
    with torch.no_grad():
        trained, again = qa_run.model(**batch), reloaded(**batch)
    assert torch.equal(trained.start_logits, again.start_logits)
    assert torch.equal(trained.end_logits, again.end_logits)


def test_evaluate_gives_exact_match_and_f1(qa_run: Any) -> None:
    from fintrade_adapters.evaluation import evaluate_artifact

    metrics = evaluate_artifact(qa_run.path, "qa-spans", split="test")
    assert metrics["split"] == "test" and metrics["n"] == 5
    assert metrics["exact_match"] == qa_run.manifest["metrics"]["test"]["exact_match"]
    assert metrics["f1"] == pytest.approx(qa_run.manifest["metrics"]["test"]["f1"])
    assert metrics["loss"] == pytest.approx(qa_run.manifest["metrics"]["test"]["loss"], rel=1e-5)


def write_sentiment_csv(path: Path, rows: int = 60) -> Path:
    """Sentences whose sentiment a phrase gives away, through the built-in ``csv`` dataset."""
    phrases = {"positive": "profits soared", "negative": "shares plunged", "neutral": "the board meets"}
    with path.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["text", "label"])
        for i in range(rows):
            label = list(phrases)[i % 3]
            writer.writerow([f"{COMPANIES[i % len(COMPANIES)]}: {phrases[label]} (item {i})", label])
    return path


def test_cli_trains_sentiment_as_qa_and_evaluates(tmp_path: Path, cli_runner: Any) -> None:
    data = write_sentiment_csv(tmp_path / "tiny.csv")
    out = tmp_path / "sentiment-qa"
    result = cli_runner(
        ["train", "--model", "minilm", "--task", "qa", "--dataset", "csv", "--option", f"dataset.path={data}",
         "--max-steps", "4", "--max-length", "40", "--batch-size", "8", "--output", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "exact match" in result.stdout and "accuracy" in result.stdout
    manifest = json.loads((out / "fintrade_manifest.json").read_text())
    assert manifest["task"] == "extractive-qa" and manifest["labels"] == ["negative", "neutral", "positive"]
    result = cli_runner(["evaluate", str(out), "--json"])
    assert result.exit_code == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert {"exact_match", "f1", "accuracy", "macro_f1", "loss"} <= set(metrics)
    assert metrics["accuracy"] == pytest.approx(metrics["exact_match"])  # the answer is the label word
    result = cli_runner(["evaluate", str(out)])
    assert result.exit_code == 0, result.stderr
    assert "exact match" in result.stdout and "confusion matrix" in result.stdout
