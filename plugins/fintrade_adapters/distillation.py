"""Knowledge distillation: a LoRA student learns a teacher's softened predictions and the labels.

For student logits ``s``, teacher logits ``t``, labels ``y``, temperature ``T`` and weight ``alpha``::

    loss = alpha * T^2 * KL(softmax(t / T) || softmax(s / T)) + (1 - alpha) * CE(s, y)

(Hinton et al., 2015: the ``T^2`` keeps the soft targets' gradients on the scale of the
cross-entropy's when ``T`` changes). The teacher is a ``fintrade train`` artifact or a
fine-tuned sequence classifier (alias, folder or hub id). It scores every training sentence
once, before training, and its logits are stored in the examples: no teacher forward pass per
step. The teacher tokenizes the raw text with its own tokenizer, so teacher and student may
use different vocabularies. With ``augment=paraphrase`` a causal LM rewords training sentences
first (:mod:`fintrade_adapters.paraphrase`) and a paraphrase is kept only when the teacher
gives it the original's label.

The rest is the ordinary run (:func:`fintrade_adapters.runner.run`) with a
:class:`DistillationTask` in place of the plain sentiment task: same data split, same loop,
same artifact (the LoRA student), plus a ``distillation`` entry in the manifest.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fintrade.errors import ConfigError
from fintrade.models.devices import resolve_device
from fintrade_adapters.errors import TeacherError, UnknownModelError
from fintrade_adapters.tasks import Example, SequenceClassificationTask

if TYPE_CHECKING:
    import pandas as pd
    import torch
    from transformers import PreTrainedTokenizerBase

    from fintrade.registry import Registry
    from fintrade_adapters.config import TrainConfig
    from fintrade_adapters.data import LabelledData
    from fintrade_adapters.runner import PreparedTask, TrainedRun

DEFAULT_STUDENT = "minilm"
TEACHER_LOGITS = "teacher_logits"
"""The frame column, and the example key, that carry the teacher's logits (task label order)."""


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    labels: torch.Tensor,
    temperature: float,
    alpha: float,
    class_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """``alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE(student, labels)``, batch mean.

    KL is summed over classes and averaged over examples (``batchmean``: the true KL per
    example); ``class_weights`` weigh the cross-entropy only.
    """
    import torch.nn.functional as functional

    student = student_logits.float()
    soft_student = functional.log_softmax(student / temperature, dim=-1)
    soft_teacher = functional.log_softmax(teacher_logits.float() / temperature, dim=-1)
    kl = functional.kl_div(soft_student, soft_teacher, log_target=True, reduction="batchmean")
    ce = functional.cross_entropy(student, labels, weight=class_weights)
    return alpha * temperature**2 * kl + (1 - alpha) * ce


class DistillationTask(SequenceClassificationTask):
    """Sentiment classification whose training loss also follows the teacher's logits.

    Training examples carry ``teacher_logits``; evaluation is the plain task's (accuracy, F1
    and cross-entropy against the labels), so distilled and directly trained models compare.
    """

    name = "distillation"

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        labels: Sequence[str],
        max_length: int,
        temperature: float,
        alpha: float,
        class_weights: Sequence[float] | None = None,
    ) -> None:
        super().__init__(tokenizer, labels, max_length, class_weights)
        self.temperature = temperature
        self.alpha = alpha

    def encode(self, frame: pd.DataFrame) -> list[Example]:
        examples = super().encode(frame)
        if TEACHER_LOGITS in frame.columns:
            for example, logits in zip(examples, frame[TEACHER_LOGITS], strict=True):
                example[TEACHER_LOGITS] = [float(value) for value in logits]
        return examples

    def collate(self, examples: Sequence[Example]) -> dict[str, torch.Tensor]:
        import torch

        batch = super().collate(examples)
        if all(TEACHER_LOGITS in example for example in examples):
            batch[TEACHER_LOGITS] = torch.tensor([example[TEACHER_LOGITS] for example in examples])
        return batch

    def loss(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:

        if TEACHER_LOGITS not in batch:
            raise ConfigError("distillation: a training batch has no teacher logits (every training row needs them)")
        student = self.logits(model, batch)
        weights = None if self.class_weights is None else student.new_tensor(self.class_weights)
        return distillation_loss(student, batch[TEACHER_LOGITS], batch["labels"], self.temperature, self.alpha, weights)


# --- the teacher ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Teacher:
    """A checked teacher: where it is, what it is, and the labels of its outputs in order."""

    name: str
    kind: str  # "fintrade-adapter" or "model"
    path: str
    labels: tuple[str, ...]
    max_length: int
    manifest: Mapping[str, Any] | None = None

    def describe(self) -> dict[str, Any]:
        """The manifest entry: enough to know which teacher this was."""
        described: dict[str, Any] = {"name": self.name, "kind": self.kind, "path": self.path}
        described["hash"] = folder_hash(Path(self.path)) if Path(self.path).is_dir() else None
        described["labels"] = list(self.labels)
        if self.manifest is not None:
            described["method"] = self.manifest.get("method")
            described["base_model"] = self.manifest.get("base_model", {}).get("name")
            described["dataset"] = {k: self.manifest["dataset"].get(k) for k in ("name", "hash", "size")}
        return described


def resolve_teacher(name: str, labels: Sequence[str], max_length: int) -> Teacher:
    """Find and check a teacher without loading its weights: unknown, not a classifier, or
    other labels are each one clear error before anything heavy runs."""
    from fintrade.models.artifacts import MANIFEST, read_manifest

    folder = Path(name).expanduser()
    if (folder / MANIFEST).is_file():
        manifest = read_manifest(folder)
        task = manifest.get("hyperparameters", {}).get("task") or manifest.get("task") or "classification"
        if task not in ("classification", "sequence-classification"):
            raise TeacherError(f"teacher {name!r} is a {task} artifact; distillation needs a sentiment classifier")
        teacher = Teacher(
            name=name,
            kind="fintrade-adapter",
            path=str(folder.resolve()),
            labels=tuple(str(label) for label in manifest["labels"]),
            max_length=int(manifest.get("hyperparameters", {}).get("max_length", max_length)),
            manifest=manifest,
        )
    else:
        teacher = _model_teacher(name, max_length)
    if len(teacher.labels) != len(labels) or set(teacher.labels) != set(labels):
        raise TeacherError(
            f"teacher {name!r} predicts labels {', '.join(teacher.labels)}, but this task's labels are "
            f"{', '.join(labels)}; distill from a teacher trained on the same labels"
        )
    return teacher


def _model_teacher(name: str, max_length: int) -> Teacher:
    """A teacher given as a model: it must be a fine-tuned sequence classifier with named labels."""
    from transformers import AutoConfig

    from fintrade.models.sources import aliases, resolve_model

    try:
        source = resolve_model(name)
    except UnknownModelError:
        raise TeacherError(
            f"unknown teacher {name!r}: not a fintrade adapter artifact (a folder with fintrade_manifest.json), "
            f"a model alias ({', '.join(aliases())}), a local folder or a hub id (owner/name)"
        ) from None
    try:
        config = AutoConfig.from_pretrained(source.path, trust_remote_code=False, local_files_only=source.local)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TeacherError(f"cannot load teacher {name!r} from {source.path}: {first}") from None
    architectures = list(getattr(config, "architectures", None) or [])
    if not any(architecture.endswith("ForSequenceClassification") for architecture in architectures):
        raise TeacherError(
            f"teacher {name!r} is not a fine-tuned sequence classifier (architectures: "
            f"{', '.join(architectures) or 'none'}); give an artifact from `fintrade train` or a classifier"
        )
    labels = tuple(str(config.id2label[i]).lower() for i in range(config.num_labels))
    return Teacher(name=name, kind="model", path=source.path, labels=labels, max_length=max_length)


def folder_hash(folder: Path) -> str:
    """sha256 over the folder's top-level weight and config files (names and bytes), 16 hex digits."""
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix in (".safetensors", ".json", ".bin") and not path.name.startswith("."):
            digest.update(path.name.encode())
            with path.open("rb") as stream:
                for block in iter(lambda: stream.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()[:16]


class TeacherScorer:
    """The teacher loaded for inference; gives logits in the task's label order."""

    def __init__(self, teacher: Teacher, labels: Sequence[str], batch_size: int, device: str = "cpu") -> None:
        self.teacher = teacher
        self.batch_size = batch_size
        self.model, tokenizer = _load_teacher(teacher)
        # Beside the student on a GPU; a 4-bit (QLoRA) teacher was quantised on the CPU and stays there.
        if device != "cpu" and not getattr(self.model, "is_loaded_in_4bit", False):
            self.model = self.model.to(device)
        self.task = SequenceClassificationTask(tokenizer, teacher.labels, teacher.max_length)
        # A teacher whose outputs list the same labels in another order (a hub classifier) is re-ordered.
        self.order = [teacher.labels.index(label) for label in labels]

    def logits(self, texts: Sequence[str]) -> torch.Tensor:
        import pandas as pd

        if not texts:
            import torch

            return torch.zeros((0, len(self.order)))
        examples = self.task.encode(pd.DataFrame({"text": list(texts)}))
        return self.task.predict(self.model, examples, self.batch_size)[:, self.order]


def _load_teacher(teacher: Teacher) -> tuple[Any, PreTrainedTokenizerBase]:
    from fintrade.models.artifacts import load_adapter
    from fintrade.models.sources import load_classifier, load_tokenizer, resolve_model

    if teacher.kind == "fintrade-adapter":
        model, tokenizer, _ = load_adapter(Path(teacher.path))
        return model, tokenizer
    source = resolve_model(teacher.name)
    tokenizer = load_tokenizer(source)
    model = load_classifier(source, teacher.labels, pad_token_id=int(tokenizer.pad_token_id or 0))
    model.eval()
    return model, tokenizer


# --- the run ----------------------------------------------------------------------------------


def train(config: Mapping[str, Any]) -> Path:
    """The ``distill`` method's entry point: train a LoRA student and return the artifact directory."""
    return run(config).path


def run(values: Mapping[str, Any]) -> TrainedRun:
    """Distill ``teacher`` into a LoRA student of ``model`` (default ``minilm``) as configured."""
    from fintrade_adapters import runner
    from fintrade_adapters.config import TrainConfig, training_options
    from fintrade_adapters.data import SENTIMENT_LABELS, datasets_in

    values = {**values, "method": "distill"}
    if _looks_like_a_weight(values.get("alpha")):
        raise ConfigError(
            f"option 'alpha' is LoRA's scaling (an integer, default 16), got {values['alpha']!r}; "
            "the distillation weight is distill_alpha (--option distill_alpha=0.7)"
        )
    if not values.get("model"):
        values["model"] = DEFAULT_STUDENT
    options, registry = training_options(values)
    config = TrainConfig.from_mapping(options)
    if not config.teacher:
        raise ConfigError(
            "method 'distill' needs a teacher: --option teacher=DIR (an artifact from `fintrade train`) "
            "or a fine-tuned sequence classifier (alias, folder or hub id)"
        )
    # Checked on the raw values: causal-LM and QA runs would otherwise go their own way without the teacher.
    asked, dataset_task = values.get("task"), datasets_in(registry).get(config.dataset).task
    if asked not in (None, "", "classification") or dataset_task not in ("sentiment", "classification"):
        raise ConfigError(
            f"method 'distill' trains a sentiment classifier, not task {asked or dataset_task!r} "
            f"(dataset {config.dataset!r})"
        )
    # Checked before the student and the data load: a wrong teacher fails in a second.
    teacher = resolve_teacher(config.teacher, SENTIMENT_LABELS, config.max_length)

    def prepare_task(
        run_config: TrainConfig, tokenizer: PreTrainedTokenizerBase, labelled: LabelledData, weights: list[float] | None
    ) -> PreparedTask:
        return prepare(teacher, run_config, tokenizer, labelled, weights, registry)

    return runner.run(values, prepare_task=prepare_task)


def prepare(
    teacher: Teacher,
    config: TrainConfig,
    tokenizer: PreTrainedTokenizerBase,
    labelled: LabelledData,
    class_weights: list[float] | None,
    registry: Registry | None = None,
) -> PreparedTask:
    """Paraphrase (optionally), score every training row with the teacher once, build the task.

    ``registry`` is where the teacher's own training data is looked up (:func:`teacher_saw_test_rows`).
    """
    import pandas as pd

    from fintrade_adapters.runner import PreparedTask

    labels = labelled.labels
    train = labelled.train.reset_index(drop=True)
    candidates: list[str] = []
    sources: list[int] = []
    counts = None
    if config.augment == "paraphrase":
        from fintrade_adapters.paraphrase import paraphrase

        chosen = (
            train
            if config.augment_limit is None
            else train.sample(n=min(config.augment_limit, len(train)), random_state=config.seed)
        )
        generated, counts = paraphrase(chosen["text"].astype(str).tolist(), config.paraphraser)
        for row, text in zip(chosen.index, generated, strict=True):
            if text is not None:
                candidates.append(text)
                sources.append(int(row))
    scorer = TeacherScorer(teacher, labels, config.batch_size, resolve_device(config.device, "training"))
    logits = scorer.logits(train["text"].astype(str).tolist())
    candidate_logits = scorer.logits(candidates)
    del scorer  # the teacher's weights are not needed while the student trains
    truth = [labels.index(str(label)) for label in train["label"]]
    frame = train.assign(**{TEACHER_LOGITS: logits.tolist()})
    augmentation: dict[str, Any] | None = None
    if counts is not None:
        # Label unchanged: the teacher must give the paraphrase the original sentence's label.
        kept = [i for i, row in enumerate(sources) if int(candidate_logits[i].argmax()) == truth[row]]
        added = train.loc[[sources[i] for i in kept]].assign(text=[candidates[i] for i in kept])
        added = added.assign(**{TEACHER_LOGITS: candidate_logits[kept].tolist()})
        frame = pd.concat([frame, added], ignore_index=True)
        augmentation = {"method": "paraphrase", "generator": config.paraphraser, **asdict(counts)}
        augmentation |= {"kept": len(kept), "rejected_label_changed": len(candidates) - len(kept)}
    agreement = _agreement(logits, truth)
    saw_test = teacher_saw_test_rows(teacher, config, labelled, registry)
    if saw_test:
        print(
            f"warning: teacher {teacher.name!r} was trained on {saw_test} of this run's {len(labelled.test)} test "
            "rows; test metrics will flatter the student",
            file=sys.stderr,
        )
    task = DistillationTask(
        tokenizer, labels, config.max_length, config.temperature, config.distill_alpha, class_weights
    )
    manifest = {
        "distillation": {
            "teacher": teacher.describe(),
            "temperature": config.temperature,
            "alpha": config.distill_alpha,
            "teacher_train_accuracy": agreement,
            "teacher_saw_test_rows": saw_test,
            "augmentation": augmentation,
            "training_rows": len(frame),
        }
    }
    return PreparedTask(task=task, train=frame, manifest=manifest)


def _agreement(logits: torch.Tensor, truth: Sequence[int]) -> float:
    """How often the teacher's top label is the true one on the training rows."""
    predicted = logits.argmax(dim=1).tolist()
    return sum(p == t for p, t in zip(predicted, truth, strict=True)) / len(truth) if truth else float("nan")


def teacher_saw_test_rows(
    teacher: Teacher, config: TrainConfig, labelled: LabelledData, registry: Registry | None = None
) -> int | None:
    """How many of this run's test sentences the teacher trained on (None when that cannot be known).

    A teacher that saw the student's test rows passes their labels on: the test score is then
    not held-out. Known only for a fintrade artifact trained on the same dataset and options.
    Sentences that this run's own training split also holds (duplicates in the data) do not
    count: the student sees those anyway.
    """
    from fintrade_adapters import data as data_module

    manifest = teacher.manifest
    if manifest is None or labelled.test.empty:
        return None
    trained = manifest["dataset"]
    if trained["name"] != labelled.name or dict(trained.get("options") or {}) != dict(config.dataset_options):
        return None
    teacher_split = data_module.trained_split(manifest, labelled.labels, registry=registry)
    seen = set(teacher_split.train["text"].astype(str)) - set(labelled.train["text"].astype(str))
    return int(sum(text in seen for text in labelled.test["text"].astype(str)))


def _looks_like_a_weight(value: Any) -> bool:
    """A number strictly between 0 and 1: meant as the distillation weight, not LoRA's alpha."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    return 0 < number < 1
