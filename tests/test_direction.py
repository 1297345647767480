"""market-direction: an edge when documents carry one and none when not, point-in-time, cache, bad parameters."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fintrade_direction import classifier, embeddings
from fintrade_direction.embedding_cache import EmbeddingCache, EmbeddingCacheWarning
from fintrade_direction.model import compute
from fintrade_direction.text_features import bar_text
from fintrade_synthetic import make_documents, make_market

from fintrade.alignment import bar_close_times
from fintrade.errors import ConfigError
from fintrade.registry import Registry
from fintrade.types import Signal, SignalInput

pytest.importorskip("sklearn")
pytest.importorskip("transformers")

#: ``fintrade check``'s tolerance: anything beyond float noise is a leak.
RTOL, ATOL = 1e-9, 1e-12


@pytest.fixture(scope="module", autouse=True)
def embedding_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One cold embedding cache for the module: MiniLM encodes each distinct headline once."""
    path = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FINTRADE_CACHE_DIR", str(path))
        yield path


def _market_inputs(information: float, bars: int = 600, **news: object) -> tuple[SignalInput, np.ndarray]:
    market = make_market(["AAA", "BBB"], seed=11, bars=bars)
    documents = make_documents(market, information=information, **news)  # type: ignore[arg-type]
    inputs = SignalInput(bars=market.bars, documents=documents, close_times=bar_close_times(market.index, "1d"))
    return inputs, _next_returns(inputs)


def _next_returns(inputs: SignalInput) -> np.ndarray:
    close = inputs.field("close").to_numpy()
    following = np.full(close.shape, np.nan)
    following[:-1] = np.log(close[1:] / close[:-1])
    return following


def _hit_rate(signal: Signal, following: np.ndarray) -> tuple[float, int]:
    """Share of predicted bars whose score has the sign of the next bar's return (all out of sample)."""
    score = signal.score.to_numpy()
    traded = ~np.isnan(score) & (score != 0) & ~np.isnan(following)
    return float((np.sign(score[traded]) == np.sign(following[traded])).mean()), int(traded.sum())


def test_text_finds_the_edge_only_when_documents_carry_it() -> None:
    informed, following = _market_inputs(information=1.0)
    hit, traded = _hit_rate(compute(informed, {"pca": 4}), following)
    assert traded > 600  # 2 symbols x (600 - 250) bars, less the last
    assert hit > 0.8
    uninformed, following = _market_inputs(information=0.0)
    hit, _ = _hit_rate(compute(uninformed, {"pca": 4}), following)
    assert 0.42 < hit < 0.58


def _autocorrelated_bars(symbol: str, n_bars: int, phi: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng([seed, sum(map(ord, symbol))])
    returns = np.zeros(n_bars)
    for t in range(1, n_bars):
        returns[t] = phi * returns[t - 1] + 0.01 * rng.standard_normal()
    close = 100 * np.exp(np.cumsum(returns))
    open_ = np.concatenate([[100.0], close[:-1]])
    index = pd.date_range("2019-01-01", periods=n_bars, freq="B", tz="UTC")
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * 1.002,
            "low": np.minimum(open_, close) * 0.998,
            "close": close,
            "volume": 1e6 * (1 + 0.1 * rng.random(n_bars)),
        },
        index=index,
    )


@pytest.mark.parametrize(("phi", "low", "high"), [(0.5, 0.62, 1.0), (0.0, 0.42, 0.58)])
def test_numeric_features_find_price_predictability(phi: float, low: float, high: float) -> None:
    inputs = SignalInput(bars={s: _autocorrelated_bars(s, 700, phi, seed=5) for s in ("AAA", "BBB")})
    hit, traded = _hit_rate(compute(inputs, {"text": False}), _next_returns(inputs))
    assert traded > 800
    assert low < hit < high


def _cut(inputs: SignalInput, position: int) -> SignalInput:
    """What was known at bar ``position``'s close, as ``fintrade check`` cuts it: the bars up to
    it and the documents published by its close."""
    stop = position + 1
    documents = inputs.documents
    assert documents is not None
    known = documents.loc[np.asarray(documents["published_at"] <= inputs.closes_at[position])]
    close_times = inputs.close_times[:stop] if inputs.close_times is not None else None
    return SignalInput({s: f.iloc[:stop] for s, f in inputs.bars.items()}, documents=known, close_times=close_times)


TRUNCATION_PARAMS = {"pca": 3, "min_train": 120, "refit_every": 15, "lag": "30min"}
# Bars just before the first fit, at refit bars (where using one row too many would show), mid-block, the end.
CUTS = (119, 120, 135, 142, 165, 298)


def _news_with_market_wide_documents() -> SignalInput:
    inputs, _ = _market_inputs(information=0.6, bars=300, docs_per_bar=0.7, arrivals="poisson")
    documents = inputs.documents
    assert documents is not None
    market_wide = documents.iloc[::9].assign(symbol="", id=lambda f: f["id"] + "-market")
    return SignalInput(inputs.bars, pd.concat([documents, market_wide], ignore_index=True), inputs.close_times)


def _truncation_differences(inputs: SignalInput, params: dict) -> list[int]:
    full = compute(inputs, params)
    differing = []
    for position in CUTS:
        cut = compute(_cut(inputs, position), params)
        for name in ("score", "confidence"):
            expected = getattr(full, name).iloc[: position + 1].to_numpy()
            if not np.allclose(getattr(cut, name).to_numpy(), expected, rtol=RTOL, atol=ATOL, equal_nan=True):
                differing.append(position)
                break
    return differing


def test_values_at_t_do_not_change_when_the_future_is_cut() -> None:
    inputs = _news_with_market_wide_documents()
    full = compute(inputs, TRUNCATION_PARAMS)
    assert full.score.iloc[:120].isna().all().all()
    assert full.score.iloc[120:].notna().all().all()
    assert _truncation_differences(inputs, TRUNCATION_PARAMS) == []
    numeric_only = {**TRUNCATION_PARAMS, "text": False, "train_window": 60}
    assert _truncation_differences(inputs, numeric_only) == []


def test_the_backtests_probe_for_later_documents_accepts_it(core_registry: Registry) -> None:
    from fintrade.sweep import compute_signal

    inputs = _news_with_market_wide_documents()
    model = core_registry.signal_models.get("market-direction")
    probed = compute_signal(model, inputs, [{**model.defaults, **TRUNCATION_PARAMS}], "direction", probe=True)
    np.testing.assert_array_equal(probed.score.to_numpy(), compute(inputs, TRUNCATION_PARAMS).score.to_numpy())


def test_the_truncation_test_catches_a_label_used_before_it_is_known(monkeypatch: pytest.MonkeyPatch) -> None:
    # Planted leak: a fit at bar t also trains on row t, whose label needs bar t+1's close.
    def leaky(self: classifier.Schedule, refit: int) -> tuple[int, int]:
        return 0, refit + 1

    monkeypatch.setattr(classifier.Schedule, "training_bars", leaky)
    differing = _truncation_differences(_news_with_market_wide_documents(), TRUNCATION_PARAMS)
    assert {120, 135, 165} <= set(differing)


def test_scores_are_probability_differences() -> None:
    inputs, _ = _market_inputs(information=0.5, bars=400)
    signal = compute(inputs, {"pca": 2, "min_train": 200, "flat": 0.5})
    score, confidence = signal.score.to_numpy()[200:], signal.confidence.to_numpy()[200:]
    assert np.all(np.abs(score) <= 1) and np.all((confidence >= 1 / 3 - 1e-12) & (confidence <= 1))
    # |P(up) - P(down)| can never exceed the largest probability.
    assert np.all(np.abs(score) <= confidence + 1e-12)
    assert signal.score.index.equals(inputs.index) and list(signal.score.columns) == ["AAA", "BBB"]


def test_a_document_one_second_after_the_close_counts_for_the_next_bar() -> None:
    index = pd.date_range("2021-03-01", periods=3, freq="B", tz="UTC")
    closes = bar_close_times(index, "1d", "16:00 America/New_York")
    documents = pd.DataFrame(
        {
            "published_at": [closes[0], closes[0] + pd.Timedelta(seconds=1), closes[1] - pd.Timedelta(hours=1)],
            "symbol": ["AAA", "AAA", ""],
            "text": ["Shares of AAA surge", "AAA plunges after guidance cut", "Markets rally"],
        }
    )
    text = bar_text(documents, ["AAA", "BBB"], closes, "0s", "minilm")
    # Rows are bar * 2 + symbol: AAA at bar 0 (the on-the-close document); AAA and BBB at bar 1.
    assert text.rows.tolist() == [0, 2, 3]
    vectors = embeddings.embed_texts(documents["text"].tolist())
    np.testing.assert_allclose(text.vectors[0], vectors[0], atol=1e-7)
    np.testing.assert_allclose(text.vectors[1], (vectors[1] + vectors[2]) / 2, atol=1e-7)
    np.testing.assert_allclose(text.vectors[2], vectors[2], atol=1e-7)


def test_cached_embeddings_equal_recomputed_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    texts = ["AAA beats estimates", "BBB misses on revenue", "AAA beats estimates", "Guidance cut at CCC"]
    store = EmbeddingCache(tmp_path / "e.sqlite")
    cold = embeddings.embed_texts(texts, cache=store)
    assert cold.shape == (4, 384) and store.count(embeddings.model_key("minilm")) == 3
    np.testing.assert_allclose(np.linalg.norm(cold, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(cold[0], cold[2])
    np.testing.assert_allclose(cold, embeddings.encode(texts, "minilm"), atol=1e-6)

    def no_encoder(*args: object) -> np.ndarray:
        raise AssertionError("a cached text was encoded again")

    monkeypatch.setattr(embeddings, "encode", no_encoder)
    warm = embeddings.embed_texts(texts, cache=EmbeddingCache(tmp_path / "e.sqlite"))  # a new process's view
    np.testing.assert_array_equal(warm, cold)


def test_a_corrupt_embedding_cache_is_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "e.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.warns(EmbeddingCacheWarning, match="unreadable"):
        vectors = embeddings.embed_texts(["AAA beats estimates"], cache=EmbeddingCache(path))
    assert vectors.shape == (1, 384)
    assert any(p.name.startswith("e.sqlite.corrupt-") for p in tmp_path.iterdir())
    assert EmbeddingCache(path).count(embeddings.model_key("minilm")) == 1


def test_registered_with_its_defaults(core_registry: Registry) -> None:
    model = core_registry.signal_models.get("market-direction")
    assert model.defaults["refit_every"] == 21 and model.defaults["min_train"] == 250 and model.needs_documents
    inputs = SignalInput(bars={s: _autocorrelated_bars(s, 300, 0.3, seed=1) for s in ("AAA",)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        signal = model.compute(inputs, {"text": False, "min_train": 100})
    assert signal.score.iloc[100:].notna().all().all()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"refit_every": 0},
            "signal model 'market-direction': parameter 'refit_every' must be a positive integer, got 0",
        ),
        (
            {"min_train": 2.5},
            "signal model 'market-direction': parameter 'min_train' must be a positive integer, got 2.5",
        ),
        ({"pca": -1}, "signal model 'market-direction': parameter 'pca' must be an integer >= 0, got -1"),
        ({"flat": "wide"}, "signal model 'market-direction': parameter 'flat' must be a number >= 0, got 'wide'"),
        ({"C": 0}, "signal model 'market-direction': parameter 'C' must be a positive number, got 0"),
        ({"text": "no"}, "signal model 'market-direction': parameter 'text' must be True or False, got 'no'"),
        ({"lag": "soon"}, "signal model 'market-direction': parameter 'lag' must be a non-negative duration"),
        ({"refit": 5}, "signal model 'market-direction': unknown parameter 'refit' (did you mean 'refit_every'?)"),
        ({"model": "no-such-model"}, "unknown model 'no-such-model': not an alias"),
        ({}, "signal model 'market-direction': text=True needs documents (set the strategy's text_source)"),
    ],
)
def test_bad_parameters_are_one_line_errors(params: dict, message: str) -> None:
    bars = {"AAA": _autocorrelated_bars("AAA", 50, 0.0, seed=2)}
    documents = None if not params else make_documents(make_market(["AAA"], bars=50), information=0.0)
    with pytest.raises(ConfigError) as error:
        compute(SignalInput(bars, documents=documents), params)
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)
