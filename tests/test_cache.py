"""The bar cache: incremental fetches, offline mode, corruption, partial downloads, crashes, locking."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fintrade.cache import METADATA_KEY, BarCache, CacheKey, DataWarning, PartialFetch, cached_bars
from fintrade.errors import DataError

NOW = pd.Timestamp("2024-01-01", tz="UTC")


def daily_bars(start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Deterministic bars for every day in [start, end): price = days since 2000."""
    index = pd.date_range(start, end, freq="D", inclusive="left", tz="UTC")
    price = (index - pd.Timestamp("2000-01-01", tz="UTC")).days.to_numpy(dtype=float) + 100.0
    return pd.DataFrame(
        {"open": price, "high": price + 1, "low": price - 1, "close": price, "volume": 1.0}, index=index
    )


class CountingFetch:
    def __init__(self) -> None:
        self.calls: list[tuple[pd.Timestamp, pd.Timestamp]] = []

    def __call__(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        self.calls.append((start, end))
        return daily_bars(start, end)


def _get(cache: BarCache, fetch, start: str, end: str, **kwargs) -> pd.DataFrame:
    return cached_bars(
        source="test",
        symbol="XYZ",
        interval="1d",
        start=pd.Timestamp(start, tz="UTC"),
        end=pd.Timestamp(end, tz="UTC"),
        fetch=fetch,
        cache=cache,
        now=NOW,
        **kwargs,
    )


def test_extension_fetches_only_the_missing_part_and_repeats_fetch_nothing(tmp_path: Path) -> None:
    cache, fetch = BarCache(tmp_path), CountingFetch()
    two = _get(cache, fetch, "2021-01-01", "2023-01-01")
    three = _get(cache, fetch, "2020-01-01", "2023-01-01")
    again = _get(cache, fetch, "2020-01-01", "2023-01-01")
    assert fetch.calls == [
        (pd.Timestamp("2021-01-01", tz="UTC"), pd.Timestamp("2023-01-01", tz="UTC")),
        (pd.Timestamp("2020-01-01", tz="UTC"), pd.Timestamp("2021-01-01", tz="UTC")),
    ]
    pd.testing.assert_frame_equal(
        three, daily_bars(pd.Timestamp("2020-01-01", tz="UTC"), pd.Timestamp("2023-01-01", tz="UTC")), check_freq=False
    )
    pd.testing.assert_frame_equal(again, three)
    assert len(two) == 730


def test_a_later_range_fetches_the_hole_between_to_stay_contiguous(tmp_path: Path) -> None:
    cache, fetch = BarCache(tmp_path), CountingFetch()
    _get(cache, fetch, "2020-01-01", "2020-02-01")
    _get(cache, fetch, "2020-06-01", "2020-07-01")
    assert fetch.calls[-1] == (pd.Timestamp("2020-02-01", tz="UTC"), pd.Timestamp("2020-07-01", tz="UTC"))


def test_the_forming_bar_is_never_cached_as_complete(tmp_path: Path) -> None:
    cache, fetch = BarCache(tmp_path), CountingFetch()
    bars = _get(cache, fetch, "2023-12-01", "2024-06-01")
    assert bars.index[-1] == pd.Timestamp("2023-12-31", tz="UTC")  # 2024-01-01 is still forming at NOW
    assert BarCache(tmp_path).read(CacheKey("test", "XYZ", "1d"))[2] == NOW


def test_offline_with_missing_data_fails_without_fetching(tmp_path: Path) -> None:
    cache, fetch = BarCache(tmp_path), CountingFetch()
    _get(cache, fetch, "2021-01-01", "2022-01-01")
    assert len(_get(cache, fetch, "2021-01-01", "2022-01-01", offline=True)) == 365
    with pytest.raises(
        DataError, match=r"source 'test', symbol 'XYZ', interval 1d: offline and 2020-01-01 .* is not cached"
    ):
        _get(cache, fetch, "2020-01-01", "2022-01-01", offline=True)
    assert len(fetch.calls) == 1


def test_a_corrupt_file_is_detected_and_fetched_again(tmp_path: Path) -> None:
    cache, fetch = BarCache(tmp_path), CountingFetch()
    _get(cache, fetch, "2021-01-01", "2022-01-01")
    path = CacheKey("test", "XYZ", "1d").path(tmp_path)
    path.write_bytes(path.read_bytes()[:-200])  # truncated
    with pytest.warns(DataWarning, match="is corrupt"):
        bars = _get(cache, fetch, "2021-01-01", "2022-01-01")
    assert len(fetch.calls) == 2 and len(bars) == 365


def test_a_tampered_value_fails_the_checksum(tmp_path: Path) -> None:
    cache, fetch = BarCache(tmp_path), CountingFetch()
    _get(cache, fetch, "2021-01-01", "2021-02-01")
    key = CacheKey("test", "XYZ", "1d")
    frame, _, _ = cache.read(key)
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(key.path(tmp_path))
    tampered = frame.copy()
    tampered.iloc[3, 0] = 1.0
    pq.write_table(pa.Table.from_pandas(tampered).replace_schema_metadata(table.schema.metadata), key.path(tmp_path))
    with pytest.warns(DataWarning, match="do not match the recorded checksum"):
        _get(cache, fetch, "2021-01-01", "2021-02-01")
    assert len(fetch.calls) == 2


def _edit_metadata(path: Path, **changes: object) -> None:
    """Rewrite a cache file's recorded metadata, keeping its rows and its checksum as they are."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    meta = {**json.loads(table.schema.metadata[METADATA_KEY]), **changes}
    pq.write_table(table.replace_schema_metadata({**table.schema.metadata, METADATA_KEY: json.dumps(meta)}), path)


CHECKSUM_MISMATCH = "contents do not match the recorded checksum"


@pytest.mark.parametrize(
    ("field", "value", "start", "end", "days"),
    [
        # Claims June is cached: without the check, a request up to June would get January only.
        ("covered_end", "2021-06-01T00:00:00+00:00", "2021-01-01", "2021-06-01", 151),
        # Claims 2020 is cached: a request from June 2020 would silently start in 2021.
        ("covered_start", "2020-01-01T00:00:00+00:00", "2020-06-01", "2021-02-01", 245),
    ],
)
def test_a_tampered_covered_range_is_detected_like_a_corrupt_file(
    tmp_path: Path, field: str, value: str, start: str, end: str, days: int
) -> None:
    cache, fetch = BarCache(tmp_path), CountingFetch()
    _get(cache, fetch, "2021-01-01", "2021-02-01")
    path = CacheKey("test", "XYZ", "1d").path(tmp_path)
    _edit_metadata(path, **{field: value})
    with pytest.warns(DataWarning) as caught:
        bars = _get(cache, fetch, start, end)
    assert [str(w.message) for w in caught] == [
        f"source 'test', symbol 'XYZ', interval 1d: cache file {path} is corrupt ({CHECKSUM_MISMATCH}); "
        "fetching it again"
    ]
    assert fetch.calls[-1] == (pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC"))
    pd.testing.assert_frame_equal(
        bars, daily_bars(pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC")), check_freq=False
    )
    assert len(bars) == days
    assert cache.read(CacheKey("test", "XYZ", "1d"))[1:] == (pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC"))


def test_a_corrupt_file_offline_is_one_error_naming_it_and_it_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache, fetch = BarCache(tmp_path), CountingFetch()
    _get(cache, fetch, "2021-01-01", "2021-02-01")
    path = CacheKey("test", "XYZ", "1d").path(tmp_path)
    _edit_metadata(path, covered_end="2021-03-01T00:00:00+00:00")
    tampered = path.read_bytes()
    monkeypatch.setenv("FINTRADE_OFFLINE", "1")  # what --offline sets
    with pytest.raises(DataError) as error:
        _get(cache, fetch, "2021-01-01", "2021-02-01")
    assert str(error.value) == (
        f"source 'test', symbol 'XYZ', interval 1d: cache file {path} is corrupt ({CHECKSUM_MISMATCH}) and "
        "offline mode cannot fetch it again; run without --offline to download it again"
    )
    assert len(fetch.calls) == 1 and path.read_bytes() == tampered  # nothing fetched, nothing deleted
    monkeypatch.delenv("FINTRADE_OFFLINE")
    with pytest.warns(DataWarning, match="is corrupt"):
        bars = _get(cache, fetch, "2021-01-01", "2021-02-01")
    assert len(fetch.calls) == 2 and len(bars) == 31


def test_a_failed_refetch_keeps_the_corrupt_file_for_next_time(tmp_path: Path) -> None:
    cache, fetch = BarCache(tmp_path), CountingFetch()
    _get(cache, fetch, "2021-01-01", "2021-02-01")
    path = CacheKey("test", "XYZ", "1d").path(tmp_path)
    _edit_metadata(path, rows=30)
    tampered = path.read_bytes()

    def down(start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        raise DataError("network down")

    with pytest.warns(DataWarning, match="is corrupt"), pytest.raises(DataError, match=r"^network down$"):
        _get(cache, down, "2021-01-01", "2021-02-01")
    assert path.read_bytes() == tampered


def test_version_1_files_are_still_read_and_rewritten_as_version_2(tmp_path: Path) -> None:
    """Files written before the checksum covered the metadata are not thrown away."""
    cache, fetch = BarCache(tmp_path), CountingFetch()
    key = CacheKey("test", "XYZ", "1d")
    january = _get(cache, fetch, "2021-01-01", "2021-02-01")
    digest = hashlib.sha256()  # version 1: the rows only
    digest.update(january.index.asi8.tobytes())
    digest.update(january.to_numpy(dtype=float).tobytes())
    digest.update(",".join(map(str, january.columns)).encode())
    _edit_metadata(key.path(tmp_path), version=1, sha256=digest.hexdigest())
    again = _get(cache, fetch, "2021-01-01", "2021-02-01")
    pd.testing.assert_frame_equal(again, january, check_freq=False)
    assert len(fetch.calls) == 1
    _get(cache, fetch, "2021-01-01", "2021-03-01")
    import pyarrow.parquet as pq

    assert json.loads(pq.read_schema(key.path(tmp_path)).metadata[METADATA_KEY])["version"] == 2
    assert fetch.calls[-1] == (pd.Timestamp("2021-02-01", tz="UTC"), pd.Timestamp("2021-03-01", tz="UTC"))


def test_leftover_temporary_files_are_removed_by_the_next_write_of_their_key(tmp_path: Path) -> None:
    cache, fetch = BarCache(tmp_path), CountingFetch()
    _get(cache, fetch, "2021-01-01", "2021-02-01")
    path = CacheKey("test", "XYZ", "1d").path(tmp_path)
    # The names BarCache.write gives its temporary files (tempfile.mkstemp), left by killed writers.
    leftovers = [path.parent / f".{path.name}.{tag}.tmp" for tag in ("k1ll3d_a", "k1ll3d_b")]
    other_key = path.parent / ".ABC.parquet.k1ll3d_c.tmp"
    for leftover in [*leftovers, other_key]:
        leftover.write_bytes(b"PAR1 half a file")
    _get(cache, fetch, "2021-01-01", "2021-02-01")  # read only: nothing written, nothing removed
    assert all(leftover.exists() for leftover in leftovers)
    bars = _get(cache, fetch, "2021-01-01", "2021-03-01")  # extends, so writes
    assert not any(leftover.exists() for leftover in leftovers)
    assert other_key.exists()  # another key's file is that key's writer's business
    assert fetch.calls[-1] == (pd.Timestamp("2021-02-01", tz="UTC"), pd.Timestamp("2021-03-01", tz="UTC"))
    pd.testing.assert_frame_equal(
        bars, daily_bars(pd.Timestamp("2021-01-01", tz="UTC"), pd.Timestamp("2021-03-01", tz="UTC")), check_freq=False
    )


def test_a_partial_download_is_cached_only_as_far_as_it_got(tmp_path: Path) -> None:
    cache = BarCache(tmp_path)
    stop = pd.Timestamp("2021-03-01", tz="UTC")

    def flaky(start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        raise PartialFetch("the server stopped at 2021-03-01", daily_bars(start, stop), stop)

    with pytest.raises(DataError, match="the server stopped at 2021-03-01; the part received is cached"):
        _get(cache, flaky, "2021-01-01", "2022-01-01")
    fetch = CountingFetch()
    bars = _get(cache, fetch, "2021-01-01", "2022-01-01")
    assert fetch.calls == [(stop, pd.Timestamp("2022-01-01", tz="UTC"))]
    assert len(bars) == 365


def test_duplicate_bars_in_a_download_are_reported_and_dropped(tmp_path: Path) -> None:
    def repeating(start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        bars = daily_bars(start, end)
        return pd.concat([bars.iloc[:10], bars.iloc[9:]])

    with pytest.warns(DataWarning, match="1 duplicate bar"):
        bars = _get(BarCache(tmp_path), repeating, "2021-01-01", "2021-02-01")
    assert bars.index.is_unique and len(bars) == 31


def test_bad_bars_from_a_source_are_not_cached(tmp_path: Path) -> None:
    def broken(start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        return daily_bars(start, end).drop(columns="close")

    with pytest.raises(DataError, match="missing column"):
        _get(BarCache(tmp_path), broken, "2021-01-01", "2021-02-01")
    assert not CacheKey("test", "XYZ", "1d").path(tmp_path).exists()


def test_list_and_clear(tmp_path: Path) -> None:
    cache, fetch = BarCache(tmp_path), CountingFetch()
    _get(cache, fetch, "2021-01-01", "2021-02-01")
    cached_bars(
        source="other",
        symbol="BTC/USDT:USDT",
        interval="1d",
        start=pd.Timestamp("2021-01-01", tz="UTC"),
        end=pd.Timestamp("2021-01-05", tz="UTC"),
        fetch=fetch,
        cache=cache,
        now=NOW,
    )
    entries = {(e.key.source, e.key.symbol): e for e in cache.entries()}
    assert entries[("test", "XYZ")].rows == 31
    assert entries[("other", "BTC/USDT:USDT")].rows == 4
    assert cache.clear(source="other") == 1
    assert [e.key.symbol for e in cache.entries()] == ["XYZ"]


WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np, pandas as pd
    from pathlib import Path
    from fintrade.cache import BarCache, CacheKey

    cache, key = BarCache(Path(sys.argv[1])), CacheKey("test", "XYZ", "1m")
    index = pd.date_range("2020-01-01", periods=400_000, freq="min", tz="UTC")
    for generation in range(1, 10_000):
        value = np.full(len(index), float(generation))
        frame = pd.DataFrame({"open": value, "high": value, "low": value, "close": value, "volume": value}, index=index)
        cache.write(key, frame, index[0], index[-1])
        print(generation, flush=True)
    """
)


def test_killing_a_writer_mid_write_leaves_a_readable_correct_cache(tmp_path: Path) -> None:
    key = CacheKey("test", "XYZ", "1m")
    killed_mid_write = 0
    for delay in (0.05, 0.2, 0.35, 0.5, 0.8, 1.1):
        process = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
        process.stdout.readline()  # one complete write exists
        time.sleep(delay)
        # Kill as soon as a write is under way (a temporary file exists), or at the deadline.
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and not any(
            p.name.endswith(".tmp") for p in key.path(tmp_path).parent.iterdir()
        ):
            time.sleep(0.002)
        process.send_signal(signal.SIGKILL)
        process.wait()
        killed_mid_write += any(p.name.endswith(".tmp") for p in key.path(tmp_path).parent.iterdir())
        frame, _, _ = BarCache(tmp_path).read(key)  # checksum verified inside
        assert len(frame) == 400_000
        assert np.unique(frame.to_numpy()).size == 1  # one generation, never a mix
    assert killed_mid_write >= 1, "no kill landed during a write; the test proved nothing"
    # The next write of the key removes what a killed writer left, and loses nothing cached.
    cache = BarCache(tmp_path)
    frame, covered_start, covered_end = cache.read(key)
    cache.write(key, frame, covered_start, covered_end)
    assert not [p for p in key.path(tmp_path).parent.iterdir() if p.name.endswith(".tmp")]
    assert cache.read(key)[1:] == (covered_start, covered_end)
    pd.testing.assert_frame_equal(cache.read(key)[0], frame)
    cache.clear()
    assert not [p for p in key.path(tmp_path).parent.iterdir() if p.name.endswith(".tmp")]


def test_two_processes_fetch_once(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys, time
        import pandas as pd
        from pathlib import Path
        from fintrade.cache import BarCache, cached_bars
        sys.path.insert(0, sys.argv[2])
        from test_cache import daily_bars

        def fetch(start, end):
            with open(Path(sys.argv[1]) / "fetches.log", "a") as log:
                log.write(f"{start} {end}\\n")
            time.sleep(0.5)
            return daily_bars(start, end)

        cached_bars(source="test", symbol="XYZ", interval="1d", start=pd.Timestamp("2021-01-01", tz="UTC"),
                    end=pd.Timestamp("2022-01-01", tz="UTC"), fetch=fetch, cache=BarCache(Path(sys.argv[1])),
                    now=pd.Timestamp("2024-01-01", tz="UTC"))
        """
    )
    here = str(Path(__file__).parent)
    processes = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path), here]) for _ in range(2)]
    assert [p.wait() for p in processes] == [0, 0]
    assert len((tmp_path / "fetches.log").read_text().splitlines()) == 1


CACHED_STRATEGY = textwrap.dedent(
    """
    import numpy as np
    import pandas as pd

    import fintrade
    from fintrade import Strategy, signal
    from fintrade.cache import cached_bars
    from fintrade.types import DataSource


    def _fetch(start, end):
        index = pd.date_range(start, end, freq="D", inclusive="left", tz="UTC")
        days = (index - pd.Timestamp("2000-01-01", tz="UTC")).days.to_numpy(dtype=float)
        price = 100.0 + 10.0 * np.sin(days / 15.0)
        return pd.DataFrame(
            {"open": price, "high": price + 1, "low": price - 1, "close": price, "volume": 1.0}, index=index
        )


    def _load(request):
        return {
            symbol: cached_bars(
                source="cached", symbol=symbol, interval=request.interval, start=request.start, end=request.end,
                fetch=_fetch,
            )
            for symbol in request.symbols
        }


    @fintrade.hookimpl
    def fintrade_data_sources():
        yield DataSource(name="cached", load=_load)


    class Cached(Strategy):
        symbols = ["XYZ"]
        source = "cached"
        start = "2021-01-01"
        end = "2023-01-01"
        signals = [signal("sma-cross", fast=5, slow=20)]
    """
)


def test_cache_warnings_reach_the_backtest_json_and_are_still_printed(
    tmp_path: Path, cli_runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FINTRADE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("FINTRADE_OFFLINE", raising=False)
    strategy = tmp_path / "cached.py"
    strategy.write_text(CACHED_STRATEGY)
    first = cli_runner(["backtest", str(strategy), "--json", "--quiet"])
    assert first.exit_code == 0, first.stderr
    assert not [w for w in json.loads(first.stdout)["warnings"] if "cache file" in w]
    path = CacheKey("cached", "XYZ", "1d").path(tmp_path / "cache")
    _edit_metadata(path, covered_start="2020-01-01T00:00:00+00:00")
    second = cli_runner(["backtest", str(strategy), "--json", "--quiet"])
    assert second.exit_code == 0, second.stderr
    message = (
        f"source 'cached', symbol 'XYZ', interval 1d: cache file {path} is corrupt ({CHECKSUM_MISMATCH}); "
        "fetching it again"
    )
    assert json.loads(second.stdout)["warnings"].count(message) == 1
    assert f"warning: {message}\n" in second.stderr
    assert json.loads(second.stdout)["bars"] == json.loads(first.stdout)["bars"]
