"""Scoring the texts that no cache holds on Ray: Ray Data over a pool of actors, one model each.

:func:`fintrade_sentiment.llm.score_texts` comes here when the run's executor is ``ray``. The
driver plans the model batches exactly as the local path does (chunks of
:data:`~fintrade_sentiment.llm.WRITE_EVERY` texts, sorted by token count, cut by batch size
and padded tokens), so every text goes through the model in the same padded batch as it would
locally: a text's probabilities depend on its batch's width and rows (by about 1e-6), and this
keeps Ray's results bit-identical to local ones on the same device. Each planned batch is one
row of a Ray dataset; ``map_batches`` hands them to a fixed pool of actors (:class:`_Scorer`),
each of which loads the classifier once, through the same loading code as local scoring, and
returns the three probabilities of every text with its hash. The driver reads the results as
they arrive, in any order, advances the one progress bar and writes them into the score cache
every ``WRITE_EVERY`` texts, so an interrupted run keeps what it had scored.

Placement: an actor per GPU (``num_gpus=1``, the model on that GPU) when the cluster has GPUs
and the precision can use one; otherwise actors on CPUs, as many as the executor's workers (or
the cluster's CPUs), each with its share of the CPUs as torch threads. A worker that dies is
restarted and its batches retried at most :data:`fintrade.executors.MAX_RETRIES` times.

On a cluster joined by address, other nodes may not have the model's folder (an artifact
trained on the driver's machine): an artifact's files travel once through the object store, and
an actor on a node without the folder writes them to a local folder keyed by the model's
identity and loads from there. A plain model folder (a hub snapshot) does not travel: it must be
on every node.

Ray is imported here only, and this module only when the executor is ``ray``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fintrade.deferred import deferred
from fintrade.errors import ConfigError, FintradeError
from fintrade.executors import MAX_RETRIES, ChunkFailed, Executor, ray_session
from fintrade_sentiment.errors import SentimentModelError

if TYPE_CHECKING:
    import numpy as np

    from fintrade_sentiment.classifier import ClassifierSpec
    from fintrade_sentiment.score_cache import Probabilities

LOAD_CLASSIFIER = deferred("fintrade_sentiment.llm:_classifier")
"""How an actor loads its model: the signal model's own loader, imported in the actor (by name,
so that it pickles as a reference and this module does not import the one that imports it)."""

GPU_BATCHES_PER_CALL = 16
"""Planned model batches an actor on a GPU runs per call: a GPU finishes one batch of tweets in
milliseconds, so it takes several at a time and the per-call overhead stays small."""
CPU_BATCHES_PER_CALL = 1
"""On a CPU one batch of 64 tweets takes about a second: one per call."""
SHIPPED_MODELS_DIR = "fintrade-models"
"""Under the temporary directory of a node without the model's folder: the shipped copies."""
MAX_BLOCKS = 1000
"""Dataset blocks at most. A block is the unit handed to an actor and the unit of progress."""


@dataclass(frozen=True)
class Placement:
    """Where the scoring actors run: how many, with which resources, on which torch device."""

    actors: int
    cpus: int
    gpus: int
    device: str
    batches_per_call: int

    def describe(self) -> dict[str, Any]:
        """For benchmarks and logs."""
        return {
            "actors": self.actors,
            "cpus_per_actor": self.cpus,
            "gpus_per_actor": self.gpus,
            "device": self.device,
            "batches_per_call": self.batches_per_call,
        }


def placement(resources: dict[str, float], executor: Executor, precision: str, device: str) -> Placement:
    """The actor pool for a cluster with ``resources`` (``ray.cluster_resources()``).

    ``device`` is the caller's request: ``"auto"`` takes a GPU per actor when the cluster has
    GPUs (and ``precision`` is not int8, which runs on CPUs only), ``"cuda"``/``"cuda:N"`` insist
    on GPUs (each actor sees its own GPU as ``cuda``), ``"cpu"`` stays on CPUs.
    """
    gpus = int(resources.get("GPU", 0))
    cpus = max(1, int(resources.get("CPU", 1)))
    if device.startswith("cuda") and gpus == 0:
        raise ConfigError(
            f"signal model 'llm-sentiment': device={device!r}, but the Ray cluster has no GPU; "
            "use device='cpu' or 'auto'"
        )
    if precision != "int8" and gpus > 0 and device != "cpu":
        actors = min(gpus, executor.workers or gpus)
        return Placement(actors, 1, 1, "cuda", GPU_BATCHES_PER_CALL)
    actors = min(cpus, executor.workers or cpus)
    return Placement(actors, max(1, cpus // actors), 0, "cpu", CPU_BATCHES_PER_CALL)


def plan_batches(tokenizer: Any, texts: Sequence[str], batch_size: int, max_length: int, chunk: int) -> list[list[int]]:
    """The model batches the local path runs for ``texts``, as lists of positions in ``texts``.

    The local path scores ``chunk`` texts at a time, and within a chunk sorts them by token
    count and cuts batches (:func:`fintrade_sentiment.inference.class_probabilities`).
    """
    from fintrade_sentiment.inference import _batches

    planned: list[list[int]] = []
    for start in range(0, len(texts), chunk):
        encoded = tokenizer(list(texts[start : start + chunk]), truncation=True, max_length=max_length)["input_ids"]
        lengths = [len(ids) for ids in encoded]
        order = sorted(range(len(lengths)), key=lengths.__getitem__)
        planned.extend([start + i for i in rows] for rows in _batches(order, lengths, batch_size))
    return planned


def load_tokenizer(spec: ClassifierSpec) -> Any:
    """The classifier's tokenizer alone (what the driver needs to plan batches), from its folder."""
    from transformers import AutoTokenizer

    from fintrade.models.sources import quiet_libraries

    quiet_libraries()
    return AutoTokenizer.from_pretrained(spec.path, trust_remote_code=False, local_files_only=True)


def folder_files(folder: str) -> dict[str, bytes]:
    """Every file under ``folder``, by path relative to it (an artifact, to ship to other nodes)."""
    root = Path(folder)
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def model_folder(spec: ClassifierSpec, files: dict[str, bytes] | None) -> ClassifierSpec:
    """``spec`` as this node can load it: as is where its folder exists, else from the shipped ``files``."""
    if Path(spec.path).is_dir():
        return spec
    if files is None:
        import socket

        raise SentimentModelError(
            f"model {spec.name!r}: its folder {spec.path} is not on Ray node {socket.gethostname()}; "
            "install the model there too, or put it on a file system every node shares"
        )
    target = Path(tempfile.gettempdir()) / SHIPPED_MODELS_DIR / spec.identity
    if not target.is_dir():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f".{spec.identity}-", dir=target.parent))
        for name, data in files.items():
            (partial / name).parent.mkdir(parents=True, exist_ok=True)
            (partial / name).write_bytes(data)
        try:
            partial.rename(target)  # whole or not at all: another actor on this node may race us
        except OSError:
            shutil.rmtree(partial, ignore_errors=True)
    return dataclasses.replace(spec, path=str(target))


class _Scorer:
    """A Ray Data actor: the classifier, loaded once per worker; each call scores planned batches."""

    def __init__(
        self,
        spec: ClassifierSpec,
        precision: str,
        device: str,
        batch_size: int,
        threads: int,
        load: Callable[[ClassifierSpec, str, str], Any],
        files: Any = None,
    ) -> None:
        import ray
        import torch

        if device == "cpu":
            torch.set_num_threads(threads)
        self.batch_size = batch_size
        self.failed: Exception | None = None
        try:
            if not Path(spec.path).is_dir():
                spec = model_folder(spec, ray.get(files) if files is not None else None)
            self.classifier = load(spec, precision, device)
        except Exception as exc:
            # Raised from __init__, Ray keeps only its text; raised from a call, the driver gets the
            # exception itself (a SentimentModelError stays one) and the run stops at once.
            self.failed = exc

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        try:
            if self.failed is not None:
                raise self.failed
            return self._score(batch)
        except Exception as exc:
            # Carried back as data: Ray hands the driver only the text of an exception a UDF raises.
            return _rows([], None, error=_pickled(exc))

    def _score(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import numpy as np

        from fintrade_sentiment.inference import class_probabilities

        hashes: list[bytes] = []
        values: list[np.ndarray] = []
        for texts, keys in zip(batch["texts"], batch["hashes"], strict=True):
            # Already in the planned order and within the limits: this runs as one model batch.
            values.append(class_probabilities(self.classifier, [str(t) for t in texts], batch_size=self.batch_size))
            hashes.extend(bytes(k) for k in keys)
        return _rows(hashes, np.vstack(values) if values else None)


def _rows(hashes: list[bytes], probabilities: np.ndarray | None, error: bytes = b"") -> dict[str, np.ndarray]:
    """The actors' output: a hash and three probabilities per text, or one row with an error."""
    import numpy as np

    if probabilities is None:
        probabilities = np.zeros((0 if not error else 1, 3))
        hashes = [b""] if error else []
    return {
        "hash": np.array(hashes, dtype=object),
        "p_negative": probabilities[:, 0],
        "p_neutral": probabilities[:, 1],
        "p_positive": probabilities[:, 2],
        "error": np.array([error] * len(hashes), dtype=object),
    }


def _pickled(exc: Exception) -> bytes:
    import pickle

    try:
        return pickle.dumps(exc)
    except Exception:  # an exception that does not pickle travels as its text
        return pickle.dumps(RuntimeError(f"{type(exc).__name__}: {exc}"))


def _raise_carried(errors: Any) -> None:
    import pickle

    for error in errors:
        if error:
            raise pickle.loads(error)


def score_on_ray(
    executor: Executor,
    spec: ClassifierSpec,
    precision: str,
    device: str,
    batch_size: int,
    texts: Sequence[str],
    hashes: Sequence[bytes],
    keep: Callable[[dict[bytes, Probabilities]], None],
    *,
    write_every: int,
    bar: Any = None,
    load: Callable[[ClassifierSpec, str, str], Any] = LOAD_CLASSIFIER,
) -> Placement:
    """Score ``texts`` (with their ``hashes``) on Ray; ``keep(rows)`` receives every result.

    ``keep`` is called in the driver with at least ``write_every`` rows at a time (the last call
    with the rest), so the caller writes its cache in the same steps as locally; ``bar`` is
    advanced as results arrive from any worker. ``load(spec, precision, device)`` loads the
    classifier in each actor (once). Returns where the actors ran.
    """
    ray = ray_session(executor.address, executor.workers)
    from ray import data as ray_data

    where = placement(ray.cluster_resources(), executor, precision, device)
    planned = plan_batches(load_tokenizer(spec), texts, batch_size, spec.max_length, write_every)
    if not planned:
        return where
    where = Placement(min(where.actors, len(planned)), where.cpus, where.gpus, where.device, where.batches_per_call)
    items = [{"texts": [texts[i] for i in rows], "hashes": [hashes[i] for i in rows]} for rows in planned]
    # A local Ray shares this file system; a cluster's other nodes may not have the artifact.
    files = ray.put(folder_files(spec.path)) if executor.address is not None and spec.artifact else None
    pending: dict[bytes, Probabilities] = {}
    with _quiet_ray_data(ray_data.DataContext.get_current()):
        dataset = ray_data.from_items(items, override_num_blocks=min(len(items), MAX_BLOCKS))
        # Ray Data restarts actors and retries their batches without limit unless told; the bounded
        # retries pass as Ray remote arguments, deprecated in name only until Ray 2.64.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*ray_remote_args.*deprecated", category=DeprecationWarning)
            pool = ray_data.ActorPoolStrategy(size=where.actors)
            scored = _map(dataset, pool, where, spec, precision, batch_size, files, load)
        try:
            for batch in scored.iter_batches(batch_size=None, batch_format="numpy"):
                _raise_carried(batch["error"])
                rows = {
                    bytes(h): (float(n), float(u), float(p))
                    for h, n, u, p in zip(
                        batch["hash"], batch["p_negative"], batch["p_neutral"], batch["p_positive"], strict=True
                    )
                }
                pending.update(rows)
                if bar is not None:
                    bar.update(len(rows))
                if len(pending) >= write_every:
                    keep(pending)
                    pending = {}
        except FintradeError:
            raise
        except Exception as exc:
            cause = _user_cause(exc)
            if isinstance(cause, FintradeError):
                raise cause from None
            raise ChunkFailed(
                f"scoring {len(texts)} texts with {spec.name!r} on Ray failed: {type(cause).__name__}: {cause}"
            ) from exc
        finally:
            if pending:
                keep(pending)  # what was scored before a failure is kept: a re-run skips it
    return where


def _map(
    dataset: Any,
    compute: Any,
    where: Placement,
    spec: ClassifierSpec,
    precision: str,
    batch_size: int,
    files: Any,
    load: Callable[[ClassifierSpec, str, str], Any],
) -> Any:
    return dataset.map_batches(
        _Scorer,
        fn_constructor_kwargs={
            "spec": spec,
            "precision": precision,
            "device": where.device,
            "batch_size": batch_size,
            "threads": where.cpus,
            "load": load,
            "files": files,
        },
        batch_size=where.batches_per_call,
        batch_format="numpy",
        compute=compute,
        num_cpus=where.cpus,
        num_gpus=where.gpus,
        max_restarts=MAX_RETRIES,
        max_task_retries=MAX_RETRIES,
    )


def _user_cause(exc: BaseException) -> BaseException:
    """The exception a UDF raised, under Ray Data's and Ray's wrappers."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        cause = getattr(current, "cause", None)
        if isinstance(cause, BaseException) and cause is not current:
            current = cause
            continue
        if isinstance(current, FintradeError) or current.__cause__ is None:
            return current
        current = current.__cause__
    return exc


@contextlib.contextmanager
def _quiet_ray_data(context: Any) -> Iterator[None]:
    """fintrade's own bar shows progress: no Ray Data bars or banners on the terminal meanwhile.

    Ray Data's warnings (an actor pool waiting for resources) still show; its notice that the
    bars it would draw are off does not.
    """
    levels = {"ray.data": logging.WARNING, "ray.data._internal.progress": logging.ERROR}
    loggers = {name: logging.getLogger(name) for name in levels}
    saved_levels = {name: logger.level for name, logger in loggers.items()}
    for name, logger in loggers.items():
        logger.setLevel(levels[name])
    names = ("enable_progress_bars", "enable_operator_progress_bars", "print_on_execution_start")
    saved = {name: getattr(context, name) for name in names if hasattr(context, name)}
    for name in saved:
        setattr(context, name, False)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(context, name, value)
        for name, logger in loggers.items():
            logger.setLevel(saved_levels[name])
