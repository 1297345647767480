"""The built-in data plugins: ``local`` files, bundled ``sample`` data and the ``synthetic`` market.

Everything goes through the registry, as a strategy would, except where a test needs the
generator itself (``make_market``/``make_documents``).
"""

from __future__ import annotations

import gzip
import json
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fintrade.bars import validate_bars
from fintrade.cache import DataWarning
from fintrade.errors import ConfigError, DataError
from fintrade.plugin_manager import create_plugin_manager
from fintrade.registry import Registry
from fintrade.types import DOCUMENT_COLUMNS, OHLCV_COLUMNS, BarsRequest, DocumentsRequest

UTC = "UTC"


@pytest.fixture(scope="module")
def registry() -> Registry:
    """Built-in plugins only: what ships with fintrade."""
    return Registry(create_plugin_manager(load_entry_points=False))


def load_bars(registry: Registry, source: str, symbols: tuple[str, ...] = (), **request: object) -> dict:
    return dict(registry.data_sources.get(source).load(BarsRequest(symbols, **request)))  # type: ignore[arg-type]


def load_documents(registry: Registry, source: str, symbols: tuple[str, ...] = (), **request: object) -> pd.DataFrame:
    return registry.text_sources.get(source).load(DocumentsRequest(symbols, **request))  # type: ignore[arg-type]


def stamp(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=UTC)


def price_table(n: int = 5, start: str = "2020-01-01") -> pd.DataFrame:
    """A small daily table as an exporter would write it: capitalised names, a Date column."""
    close = 100.0 + np.arange(n, dtype=float)
    return pd.DataFrame(
        {
            "Date": pd.date_range(start, periods=n, freq="D").strftime("%Y-%m-%d"),
            "Open": close - 0.5,
            "High": close + 1.0,
            "Low": close - 1.0,
            "Close": close,
            "Adj Close": close / 2.0,
            "Volume": 1000.0 + np.arange(n),
        }
    )


def test_local_csv_round_trip(registry: Registry, tmp_path: Path) -> None:
    table = price_table()
    table.to_csv(tmp_path / "AAA.csv", index=False)
    bars = load_bars(registry, "local", ("AAA",), options={"path": str(tmp_path)})["AAA"]
    assert list(bars.columns) == list(OHLCV_COLUMNS)
    assert str(bars.index.tz) == UTC and bars.index.unit == "ns"
    # Naive dates are taken as UTC midnight.
    assert list(bars.index) == list(pd.date_range("2020-01-01", periods=5, freq="D", tz=UTC))
    np.testing.assert_array_equal(bars["close"].to_numpy(), table["Close"].to_numpy())
    np.testing.assert_array_equal(bars["volume"].to_numpy(), table["Volume"].to_numpy())


def test_local_parquet_round_trip_converts_index_time_zone(registry: Registry, tmp_path: Path) -> None:
    frame = price_table().drop(columns=["Date", "Adj Close"])
    frame.index = pd.date_range("2020-03-02 09:30", periods=5, freq="D", tz="America/New_York")
    frame.to_parquet(tmp_path / "BBB.parquet")
    bars = load_bars(registry, "local", ("BBB",), options={"path": str(tmp_path / "BBB.parquet")})["BBB"]
    assert bars.index[0] == stamp("2020-03-02 14:30")  # 09:30 EST
    assert (bars.index == frame.index).all()  # same instants
    np.testing.assert_array_equal(bars["open"].to_numpy(), frame["Open"].to_numpy())


def test_local_directory_serves_each_symbol_from_its_file(registry: Registry, tmp_path: Path) -> None:
    price_table(start="2021-01-01").to_csv(tmp_path / "AAA.csv", index=False)
    parquet = price_table(start="2022-01-01")
    parquet["Date"] = pd.to_datetime(parquet["Date"])
    parquet.to_parquet(tmp_path / "BBB.parquet", index=False)
    (tmp_path / "notes.txt").write_text("not bars")
    bars = load_bars(registry, "local", ("BBB", "AAA"), options={"path": str(tmp_path)})
    assert list(bars) == ["BBB", "AAA"]
    assert bars["AAA"].index[0] == stamp("2021-01-01")
    assert bars["BBB"].index[0] == stamp("2022-01-01")
    # No symbols requested: every bar file in the directory.
    assert sorted(load_bars(registry, "local", options={"path": str(tmp_path)})) == ["AAA", "BBB"]


def test_local_missing_file_names_symbol_directory_and_candidates(registry: Registry, tmp_path: Path) -> None:
    price_table().to_csv(tmp_path / "AAA.csv", index=False)
    with pytest.raises(DataError) as error:
        load_bars(registry, "local", ("XYZ",), options={"path": str(tmp_path)})
    assert (
        str(error.value) == f"source 'local': no file for symbol 'XYZ' in {tmp_path} (looked for XYZ.csv, XYZ.parquet)"
    )


def test_local_offsets_are_converted_and_range_end_is_exclusive(registry: Registry, tmp_path: Path) -> None:
    table = price_table()
    table["Date"] = [f"2020-01-0{day}T09:00:00-05:00" for day in range(1, 6)]
    table.to_csv(tmp_path / "AAA.csv", index=False)
    bars = load_bars(
        registry,
        "local",
        ("AAA",),
        start=stamp("2020-01-02 14:00"),
        end=stamp("2020-01-04 14:00"),
        options={"path": str(tmp_path)},
    )["AAA"]
    assert list(bars.index) == [stamp("2020-01-02 14:00"), stamp("2020-01-03 14:00")]


def test_local_adjusted_scales_prices_by_adj_close_over_close(registry: Registry, tmp_path: Path) -> None:
    table = price_table()
    table.to_csv(tmp_path / "AAA.csv", index=False)
    options = {"path": str(tmp_path), "adjusted": True}
    bars = load_bars(registry, "local", ("AAA",), options=options)["AAA"]
    np.testing.assert_allclose(bars["close"].to_numpy(), table["Adj Close"].to_numpy())
    np.testing.assert_allclose(bars["open"].to_numpy(), table["Open"].to_numpy() / 2.0)
    np.testing.assert_array_equal(bars["volume"].to_numpy(), table["Volume"].to_numpy())
    table.drop(columns=["Adj Close"]).to_csv(tmp_path / "AAA.csv", index=False)
    with pytest.raises(DataError, match="option adjusted=True needs an 'Adj Close' column"):
        load_bars(registry, "local", ("AAA",), options=options)


def _drop_volume(table: pd.DataFrame) -> pd.DataFrame:
    return table.drop(columns=["Volume"])


def _text_in_close(table: pd.DataFrame) -> pd.DataFrame:
    return table.astype({"Close": object}).assign(Close=["100", "abc", "102", "103", "104"])


def _unsorted(table: pd.DataFrame) -> pd.DataFrame:
    return table.iloc[[0, 2, 1, 3, 4]]


def _duplicated(table: pd.DataFrame) -> pd.DataFrame:
    return table.assign(Date=["2020-01-01", "2020-01-02", "2020-01-02", "2020-01-03", "2020-01-04"])


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (_drop_volume, "missing column(s) volume; bars need open, high, low, close, volume"),
        (_text_in_close, "column 'close' is not numeric (first bad value 'abc' at 2020-01-02 00:00:00+00:00)"),
        (_unsorted, "timestamps are not sorted (2020-01-02 00:00:00+00:00 comes after 2020-01-03 00:00:00+00:00)"),
        (_duplicated, "duplicate timestamp 2020-01-02 00:00:00+00:00 (1 duplicates)"),
    ],
    ids=["missing-column", "non-numeric", "unsorted", "duplicate"],
)
def test_local_bad_bars_fail_the_contract_with_the_file_named(
    registry: Registry, tmp_path: Path, spoil, message: str
) -> None:
    path = tmp_path / "AAA.csv"
    spoil(price_table()).to_csv(path, index=False)
    with pytest.raises(DataError) as error:
        load_bars(registry, "local", ("AAA",), options={"path": str(tmp_path)})
    assert str(error.value) == f"source 'local', symbol 'AAA' ({path}): {message}"


def test_local_time_column_problems_are_reported_by_row(registry: Registry, tmp_path: Path) -> None:
    path = tmp_path / "AAA.csv"
    price_table().drop(columns=["Date"]).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"no date/time column \(looked for datetime, timestamp, date, time"):
        load_bars(registry, "local", ("AAA",), options={"path": str(path)})
    price_table().assign(Date=["2020-01-01", "yesterday", "2020-01-03", "2020-01-04", "2020-01-05"]).to_csv(
        path, index=False
    )
    with pytest.raises(DataError) as error:
        load_bars(registry, "local", ("AAA",), options={"path": str(path)})
    assert str(error.value) == f"source 'local', symbol 'AAA' ({path}): row 2: cannot parse Date timestamp 'yesterday'"


def test_local_configuration_errors(registry: Registry, tmp_path: Path) -> None:
    price_table().to_csv(tmp_path / "AAA.csv", index=False)
    with pytest.raises(ConfigError, match="option 'path' is required"):
        load_bars(registry, "local", ("AAA",))
    with pytest.raises(ConfigError, match=r"unknown option 'adjustd' \(did you mean 'adjusted'\?\)"):
        load_bars(registry, "local", ("AAA",), options={"path": str(tmp_path), "adjustd": True})
    with pytest.raises(ConfigError, match="is a single file but 2 symbols were requested"):
        load_bars(registry, "local", ("AAA", "BBB"), options={"path": str(tmp_path / "AAA.csv")})
    with pytest.raises(ConfigError, match="does not exist"):
        load_bars(registry, "local", ("AAA",), options={"path": str(tmp_path / "missing")})


# ---------------------------------------------------------------------------------------------
# local-documents


def test_local_documents_csv_fills_source_and_stable_ids(registry: Registry, tmp_path: Path) -> None:
    import fintrade_local

    path = tmp_path / "news.csv"
    pd.DataFrame(
        {
            "Published_At": ["2020-01-02T10:00:00Z", "2020-01-01 12:00", "2020-01-03T09:00:00+01:00", "2020-01-05"],
            "Symbol": ["AAA", "", "BBB", "AAA"],
            "Text": ["AAA beats", "markets calm", "BBB misses", "too late"],
            "label": ["pos", "neu", "neg", "pos"],
        }
    ).to_csv(path, index=False)
    # The naive time and the plain date are declared: UTC wall clock, and a date counts from its end.
    options = {"path": str(path), "timezone": "UTC", "dates": True}
    with pytest.warns(DataWarning) as caught:
        documents = load_documents(registry, "local-documents", ("AAA",), end=stamp("2020-01-04"), options=options)
    assert [str(w.message) for w in caught] == [
        "text source 'local-documents': left out 1 documents published at or after the requested end "
        "2020-01-04 00:00:00+00:00"
    ]
    assert list(documents.columns) == [*DOCUMENT_COLUMNS, "label"]
    assert str(documents["published_at"].dt.tz) == UTC
    # Sorted by time; the empty-symbol (market-wide) document is kept; BBB and the late one are not.
    assert list(documents["text"]) == ["markets calm", "AAA beats"]
    assert list(documents["published_at"]) == [stamp("2020-01-01 12:00"), stamp("2020-01-02 10:00")]
    assert set(documents["source"]) == {"news.csv"}
    expected = fintrade_local.document_id(stamp("2020-01-02 10:00"), "AAA", "AAA beats")
    assert documents["id"].iloc[1] == expected and len(expected) == 16
    with pytest.warns(DataWarning):
        again = load_documents(registry, "local-documents", ("AAA",), end=stamp("2020-01-04"), options=options)
    pd.testing.assert_frame_equal(documents, again)
    everything = load_documents(registry, "local-documents", options=options)
    assert everything["published_at"].iloc[2] == stamp("2020-01-03 08:00")  # offset converted
    assert everything["published_at"].iloc[3] == stamp("2020-01-06 00:00")  # the end of 2020-01-05


def test_local_documents_jsonl_keeps_given_ids_exactly(registry: Registry, tmp_path: Path) -> None:
    path = tmp_path / "tweets.jsonl"
    rows = [
        {"published_at": "2020-01-01T00:00:00Z", "symbol": "AAA", "text": "up", "id": 418157151946035200},
        {"published_at": 1577923200, "symbol": "AAA", "text": "down", "source": "wire"},
    ]
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    documents = load_documents(registry, "local-documents", ("AAA",), options={"path": str(path)})
    assert documents["id"].iloc[0] == "418157151946035200"
    assert documents["published_at"].iloc[1] == stamp("2020-01-02")  # epoch seconds
    assert list(documents["source"]) == ["tweets.jsonl", "wire"]


def test_local_documents_row_without_timestamp_is_named(registry: Registry, tmp_path: Path) -> None:
    path = tmp_path / "news.csv"
    path.write_text("published_at,symbol,text\n2020-01-01,AAA,fine\n,AAA,no time\n")
    with pytest.raises(DataError) as error:
        load_documents(registry, "local-documents", ("AAA",), options={"path": str(path)})
    assert str(error.value) == f"text source 'local-documents', file {path}: row 2 has no published_at timestamp"
    path.write_text("published_at,text\n2020-01-01,fine\n")
    with pytest.raises(DataError, match=r"missing column\(s\) symbol; documents need published_at, symbol, text"):
        load_documents(registry, "local-documents", ("AAA",), options={"path": str(path)})


# ---------------------------------------------------------------------------------------------
# sample: bundled StockNet data

SAMPLE_SYMBOLS = ["AAPL", "AMZN", "GOOG", "JPM", "MSFT"]


def test_sample_bars_are_the_five_stocks_at_the_new_york_open(registry: Registry) -> None:
    bars = load_bars(registry, "sample")
    assert sorted(bars) == SAMPLE_SYMBOLS
    for symbol, frame in bars.items():
        assert len(frame) == 1258, symbol
        validate_bars(frame, symbol)
        assert str(frame.index.tz) == UTC
        assert set(frame.index.strftime("%H:%M")) == {"13:30", "14:30"}
    aapl = bars["AAPL"]
    assert aapl.index[0] == stamp("2012-09-04 13:30")  # EDT: 09:30 New York is 13:30 UTC
    assert stamp("2013-01-02 14:30") in aapl.index  # EST: 14:30 UTC
    # Unadjusted by default: the file's own first close.
    assert aapl["close"].iloc[0] == pytest.approx(96.424286)


def test_sample_adjusted_uses_adj_close_and_clips_by_range(registry: Registry) -> None:
    bars = load_bars(
        registry,
        "sample",
        ("AAPL",),
        start=stamp("2012-09-04"),
        end=stamp("2012-09-06 13:30"),
        options={"adjusted": True},
    )["AAPL"]
    assert list(bars.index) == [stamp("2012-09-04 13:30"), stamp("2012-09-05 13:30")]
    assert bars["close"].iloc[0] == pytest.approx(87.121140)
    assert bars["open"].iloc[0] == pytest.approx(95.108574 * 87.121140 / 96.424286)


def test_sample_unknown_symbol_suggests_the_closest(registry: Registry) -> None:
    with pytest.raises(ConfigError) as error:
        load_bars(registry, "sample", ("APPL",))
    assert str(error.value) == (
        "source 'sample': unknown symbol 'APPL' (did you mean 'AAPL'?); available: AAPL, AMZN, GOOG, JPM, MSFT"
    )
    with pytest.raises(ConfigError, match="interval '1h' is not available"):
        load_bars(registry, "sample", ("AAPL",), interval="1h")


def test_sample_returns_copies_of_its_cache(registry: Registry) -> None:
    first = load_bars(registry, "sample", ("MSFT",))["MSFT"]
    first["close"] = -1.0
    assert (load_bars(registry, "sample", ("MSFT",))["MSFT"]["close"] > 0).all()


def test_sample_tweets_are_utc_documents_about_the_sample_symbols(registry: Registry) -> None:
    tweets = load_documents(registry, "sample-tweets")
    assert list(tweets.columns) == list(DOCUMENT_COLUMNS)
    assert str(tweets["published_at"].dt.tz) == UTC
    assert tweets["published_at"].is_monotonic_increasing
    assert len(tweets) == 41_340
    assert sorted(tweets["symbol"].unique()) == SAMPLE_SYMBOLS
    assert set(tweets["source"]) == {"stocknet"}
    assert tweets["id"].iloc[0] == "418157151946035200"
    assert not tweets.duplicated().any()
    jpm = load_documents(registry, "sample-tweets", ("JPM",), start=stamp("2015-01-01"), end=stamp("2015-02-01"))
    assert set(jpm["symbol"]) == {"JPM"} and len(jpm) > 0
    assert jpm["published_at"].min() >= stamp("2015-01-01") and jpm["published_at"].max() < stamp("2015-02-01")
    with pytest.raises(ConfigError, match=r"unknown symbol 'MSTF' \(did you mean 'MSFT'\?\)"):
        load_documents(registry, "sample-tweets", ("MSTF",))


def test_sample_ships_licence_readme_and_a_small_tweet_file() -> None:
    package = resources.files("fintrade_sample")
    assert "MIT License" in package.joinpath("data", "LICENSE").read_text()
    assert "yumoxu/stocknet-dataset" in package.joinpath("README.md").read_text()
    tweets = package.joinpath("data", "tweets_raw_text.csv.gz").read_bytes()
    assert len(tweets) < 2_500_000
    header = gzip.decompress(tweets).splitlines()[0]
    assert header == b"created_at_utc,ticker,tweet_id,text"


# ---------------------------------------------------------------------------------------------
# synthetic market and news


def test_synthetic_is_deterministic_per_seed_and_symbol(registry: Registry) -> None:
    first = load_bars(registry, "synthetic", ("AAA", "BBB"), options={"seed": 7})
    again = load_bars(registry, "synthetic", ("AAA", "BBB"), options={"seed": 7})
    other = load_bars(registry, "synthetic", ("AAA", "BBB"), options={"seed": 8})
    alone = load_bars(registry, "synthetic", ("AAA",), options={"seed": 7})
    pd.testing.assert_frame_equal(first["AAA"], again["AAA"])
    pd.testing.assert_frame_equal(first["AAA"], alone["AAA"])  # other symbols change nothing
    assert not np.allclose(first["AAA"]["close"], other["AAA"]["close"])
    assert not np.allclose(first["AAA"]["close"].to_numpy(), first["BBB"]["close"].to_numpy())
    assert len(first["AAA"]) == 1000 and first["AAA"].index[0] == stamp("2015-01-01")


def test_synthetic_sub_ranges_read_the_same_prices(registry: Registry) -> None:
    full = load_bars(registry, "synthetic", ("AAA",), options={"seed": 3})["AAA"]
    part = load_bars(registry, "synthetic", ("AAA",), start=stamp("2016-03-01"), end=stamp("2016-04-01"))["AAA"]
    part_seeded = load_bars(
        registry, "synthetic", ("AAA",), start=stamp("2016-03-01"), end=stamp("2016-04-01"), options={"seed": 3}
    )["AAA"]
    pd.testing.assert_frame_equal(part_seeded, full.loc[stamp("2016-03-01") : stamp("2016-03-31")])
    assert not part.equals(part_seeded)
    assert (part_seeded.index.day_of_week < 5).all() and (part_seeded.index == part_seeded.index.normalize()).all()


def test_synthetic_bars_are_consistent_and_open_at_the_previous_close(registry: Registry) -> None:
    bars = load_bars(registry, "synthetic", ("AAA",), options={"bars": 500})["AAA"]
    pd.testing.assert_frame_equal(validate_bars(bars, "synthetic"), bars)
    assert (bars["high"] >= bars[["open", "close"]].max(axis=1)).all()
    assert (bars["low"] <= bars[["open", "close"]].min(axis=1)).all()
    assert (bars["volume"] > 0).all()
    gap = (bars["open"] / bars["close"].shift(1) - 1.0).dropna()
    assert gap.abs().max() < 1e-3
    assert 5e-5 < gap.std() < 2e-4
    # Nearly all of a bar's return happens after its open.
    intrabar = np.log(bars["close"] / bars["open"])
    close_to_close = np.log(bars["close"] / bars["close"].shift(1))
    assert np.corrcoef(intrabar.iloc[1:], close_to_close.iloc[1:])[0, 1] > 0.999


def test_synthetic_regimes_switch_drift_and_volatility() -> None:
    from fintrade_synthetic import make_market

    market = make_market(["AAA", "BBB", "CCC"], seed=0)
    assert set(market.regimes) == {"bull", "bear", "sideways"}
    long = make_market(["AAA", "BBB", "CCC"], seed=1, bars=10_000)
    by_regime = long.log_returns.stack().groupby(np.repeat(long.regimes.to_numpy(), 3))
    mean, std = by_regime.mean(), by_regime.std()
    assert mean["bull"] > 0.0005 and mean["bear"] < -0.0005 and abs(mean["sideways"]) < 0.0003
    assert std["bear"] > std["bull"] > std["sideways"]
    assert set(make_market(["AAA"], seed=0, regimes=False).regimes) == {"steady"}


def _next_return_sign(bars: pd.DataFrame, published_at: pd.Series) -> np.ndarray:
    """The sign of close_t -> close_{t+1} for the bar t each document was published in."""
    position = bars.index.searchsorted(published_at.to_numpy(), side="right") - 1
    close = bars["close"].to_numpy()
    return np.sign(close[position + 1] / close[position] - 1.0)


def test_synthetic_news_knows_the_next_bar_exactly_as_much_as_asked(registry: Registry) -> None:
    symbols = ("AAA", "BBB", "CCC")
    bars = load_bars(registry, "synthetic", symbols, options={"seed": 5, "bars": 1001})
    for information, low, high in ((1.0, 1.0, 1.0), (0.0, 0.47, 0.53), (0.5, 0.72, 0.78)):
        news = load_documents(
            registry, "synthetic-news", symbols, options={"seed": 5, "bars": 1000, "information": information}
        )
        assert len(news) == 3 * 1000
        hits = [
            (_next_return_sign(bars[symbol], group["published_at"]) == group["sentiment"].to_numpy()).mean()
            for symbol, group in news.groupby("symbol")
        ]
        assert low <= np.mean(hits) <= high, (information, hits)


def test_synthetic_news_is_published_inside_its_bar_before_the_close() -> None:
    from fintrade_synthetic import NEGATIVE_HEADLINES, POSITIVE_HEADLINES, make_documents, make_market

    market = make_market(["AAA"], seed=2, bars=300)
    news = make_documents(market, information=1.0, docs_per_bar=3)
    opens = market.index
    position = opens.searchsorted(news["published_at"].to_numpy(), side="right") - 1
    assert (news["published_at"].to_numpy() >= opens[position].to_numpy()).all()
    assert (news["published_at"] < opens[position + 1] - pd.Timedelta(hours=1)).all()
    assert np.bincount(position).tolist() == [3] * 299  # the last bar has no next return to tell
    headlines = {+1: POSITIVE_HEADLINES, -1: NEGATIVE_HEADLINES}
    for text, sentiment in zip(news["text"], news["sentiment"], strict=True):
        assert text in [template.format(symbol="AAA") for template in headlines[sentiment]]
    assert news["id"].is_unique


def test_synthetic_news_is_deterministic_and_follows_its_options(registry: Registry) -> None:
    options = {"seed": 4, "bars": 200, "information": 0.3}
    first = load_documents(registry, "synthetic-news", ("AAA",), options=options)
    pd.testing.assert_frame_equal(first, load_documents(registry, "synthetic-news", ("AAA",), options=options))
    other = load_documents(registry, "synthetic-news", ("AAA",), options={**options, "seed": 5})
    assert not first["published_at"].equals(other["published_at"])
    poisson = load_documents(
        registry, "synthetic-news", ("AAA",), options={**options, "docs_per_bar": 2.5, "arrivals": "poisson"}
    )
    assert 2.2 < len(poisson) / 200 < 2.8
    with pytest.raises(ConfigError, match="use arrivals='poisson' for a rate"):
        load_documents(registry, "synthetic-news", ("AAA",), options={"docs_per_bar": 2.5})
    with pytest.raises(ConfigError, match=r"information must be a number in \[0, 1\], got 1.5"):
        load_documents(registry, "synthetic-news", ("AAA",), options={"information": 1.5})


def test_synthetic_configuration_errors(registry: Registry) -> None:
    with pytest.raises(ConfigError, match=r"unknown option 'sed' \(did you mean 'seed'\?\)"):
        load_bars(registry, "synthetic", ("AAA",), options={"sed": 1})
    with pytest.raises(ConfigError, match="seed must be a non-negative integer, got -1"):
        load_bars(registry, "synthetic", ("AAA",), options={"seed": -1})
    with pytest.raises(ConfigError, match="no symbols requested"):
        load_bars(registry, "synthetic")
    with pytest.raises(ConfigError, match="daily bars only"):
        load_bars(registry, "synthetic", ("AAA",), interval="1h")
    with pytest.raises(DataError, match="no bars in"):
        load_bars(registry, "synthetic", ("AAA",), start=stamp("2016-01-02"), end=stamp("2016-01-04"))
