"""llm-sentiment scoring on Ray: an actor pool scores what no cache holds, with local's exact numbers.

One real local Ray (2 CPUs) for the module. The texts are real StockNet tweets from the bundled
sample source; the model is the bundled tweet adapter (offline).
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("torch")

from fintrade_sentiment import distributed, inference, llm  # noqa: E402
from fintrade_sentiment.classifier import resolve_classifier  # noqa: E402
from fintrade_sentiment.distributed import Placement, placement  # noqa: E402
from fintrade_sentiment.errors import SentimentModelError  # noqa: E402
from fintrade_sentiment.score_cache import ScoreCache, score_cache_path  # noqa: E402

from fintrade.errors import ConfigError  # noqa: E402
from fintrade.executors import Executor, using  # noqa: E402


@pytest.fixture(scope="module")
def tweets() -> list[str]:
    from fintrade_sample import load_tweets

    distinct: pd.Series = load_tweets()["text"].drop_duplicates()
    return distinct.sample(n=48, random_state=1).tolist()


class Bar:
    """Stands in for the scoring progress bar."""

    def __init__(self) -> None:
        self.total, self.updates, self.closed = 0, [], False

    def opened(self, total: int) -> Bar:
        self.total = total
        return self

    def update(self, n: int) -> None:
        self.updates.append(n)

    def close(self) -> None:
        self.closed = True


def scored_by(work) -> tuple[llm.DocumentScores, int]:
    before = llm.STATS.scored
    result = work()
    return result, llm.STATS.scored - before


def test_ray_scores_equal_local_ones_fill_the_cache_and_a_rerun_scores_nothing(
    ray_cluster, score_cache_dir, tweets, monkeypatch
) -> None:
    # Small cache writes: the texts span several of local's chunks, each planned as locally.
    monkeypatch.setattr(llm, "WRITE_EVERY", 16)
    texts = tweets + tweets[:3]  # duplicates are scored once
    local = llm.score_texts(texts, device="cpu", cache=False, memory=False, executor="local", batch_size=8)

    def no_model_in_the_driver(*args, **kwargs):
        raise AssertionError("the driver loaded the model: scoring did not go to Ray")

    # The run's executor (no executor= argument) sends scoring to Ray's actors, whose processes
    # load the model themselves: the driver's loader is not called.
    monkeypatch.setattr(llm, "_classifier", no_model_in_the_driver)
    bar = Bar()
    monkeypatch.setattr(inference, "progress_bar", lambda total, name: bar.opened(total))
    with using(Executor("ray")):
        on_ray, scored = scored_by(
            lambda: llm.score_texts(texts, device="cpu", memory=False, batch_size=8, progress=True)
        )
    assert scored == len(tweets)
    # One bar in the driver, advanced by the results of both actors as they arrived.
    assert bar.total == sum(bar.updates) == len(tweets) and len(bar.updates) > 1 and bar.closed
    # The same model on the same device in the same batches: bit-identical, not merely close.
    np.testing.assert_array_equal(on_ray.probabilities, local.probabilities)
    np.testing.assert_array_equal(on_ray.score, local.score)
    assert on_ray.model_key == local.model_key

    cached = ScoreCache(score_cache_path()).get(local.model_key, [llm.text_hash(t) for t in tweets])
    assert len(cached) == len(tweets)
    assert np.array([cached[llm.text_hash(t)] for t in texts]).tolist() == local.probabilities.tolist()

    again, rescored = scored_by(lambda: llm.score_texts(texts, device="cpu", memory=False, executor="ray"))
    assert rescored == 0
    np.testing.assert_array_equal(again.probabilities, local.probabilities)


def test_an_error_on_a_worker_reaches_the_driver_as_itself(ray_cluster, monkeypatch) -> None:
    # A cluster node without the model's folder (and nothing shipped: a local Ray shares files).
    spec = resolve_classifier(None)
    tokenizer = distributed.load_tokenizer(spec)  # the driver has the model; the "node" has not
    monkeypatch.setattr(distributed, "load_tokenizer", lambda _spec: tokenizer)
    elsewhere = dataclasses.replace(spec, path="/nonexistent/tweets-minilm-lora")
    texts = ["shares jump on earnings", "guidance cut"]
    kept: list[dict] = []
    with pytest.raises(SentimentModelError, match=r"its folder /nonexistent/tweets-minilm-lora is not on Ray node"):
        distributed.score_on_ray(
            Executor("ray"),
            elsewhere,
            "float32",
            "cpu",
            8,
            texts,
            [llm.text_hash(t) for t in texts],
            kept.append,
            write_every=16,
        )
    assert kept == []


def test_a_node_without_the_artifact_writes_the_shipped_files_once_and_loads_from_there(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    spec = resolve_classifier(None)
    files = distributed.folder_files(spec.path)
    assert "adapter_model.safetensors" in files and "fintrade_manifest.json" in files
    elsewhere = dataclasses.replace(spec, path=str(tmp_path / "not-here"))
    here = distributed.model_folder(elsewhere, files)
    assert Path(here.path).parent.parent == tmp_path and here.identity == spec.identity
    assert distributed.folder_files(here.path) == files
    assert distributed.model_folder(elsewhere, files) == here  # the second actor on the node reuses it
    assert distributed.model_folder(spec, files) is spec  # where the folder exists nothing is written


def test_local_scoring_never_imports_ray(tmp_path) -> None:
    # A stand-in model: what matters is which modules the local path imports, not the numbers.
    code = (
        "import sys\n"
        "import numpy as np\n"
        "from fintrade_sentiment import inference, llm\n"
        "llm._classifier = lambda *args: None\n"
        "inference.class_probabilities = lambda c, texts, **kw: np.full((len(texts), 3), 1 / 3)\n"
        "llm.score_texts(['$AAPL beats estimates', 'shares slide'], device='cpu', progress=False)\n"
        "assert llm.STATS.scored == 2\n"
        "print(sorted(m for m in ('ray', 'fintrade_sentiment.distributed') if m in sys.modules))\n"
    )
    env = {"FINTRADE_CACHE_DIR": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_an_actor_per_gpu_where_the_cluster_has_them_else_cpu_actors_sharing_the_cpus() -> None:
    ray_default = Executor("ray")
    assert placement({"CPU": 16.0, "GPU": 4.0}, ray_default, "float32", "auto") == Placement(4, 1, 1, "cuda", 16)
    assert placement({"CPU": 16.0, "GPU": 4.0}, Executor("ray", workers=2), "bfloat16", "cuda:1").actors == 2
    # int8 runs on CPUs only; device="cpu" keeps the model off the GPUs.
    assert placement({"CPU": 16.0, "GPU": 4.0}, ray_default, "int8", "auto") == Placement(16, 1, 0, "cpu", 1)
    assert placement({"CPU": 16.0, "GPU": 4.0}, ray_default, "float32", "cpu").gpus == 0
    assert placement({"CPU": 8.0}, Executor("ray", workers=2), "float32", "auto") == Placement(2, 4, 0, "cpu", 1)
    assert placement({"CPU": 2.0}, Executor("ray", workers=8), "float32", "auto") == Placement(2, 1, 0, "cpu", 1)
    with pytest.raises(ConfigError, match="the Ray cluster has no GPU"):
        placement({"CPU": 2.0}, ray_default, "float32", "cuda")
