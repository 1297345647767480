"""Benchmark: reading 10 symbols x 5 years of daily bars from the fintrade cache.

The cache is filled once from the StockNet CSVs in ../shared/data (the same bytes a download
would have produced), then read back through ``fintrade.cache.cached_bars`` exactly as a data
source does on a warm run: lock, read the Parquet file, verify its checksum, slice the range.
It is compared side by side with what a user would otherwise do: ``pandas.read_csv`` of the
same 10 files (parsing dates, converting to UTC). Target: the cache read under 0.2 s.

    .venv/bin/python bench/bench_cache.py
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from fintrade.cache import BarCache, cached_bars

ROOT = Path(__file__).resolve().parent.parent
PRICES = ROOT.parent / "shared" / "data" / "stocknet" / "price_raw"
SYMBOLS = ("AAPL", "AMZN", "GOOG", "MSFT", "JPM", "BAC", "C", "T", "D", "FB")
START, END = pd.Timestamp("2012-09-04", tz="UTC"), pd.Timestamp("2017-09-02", tz="UTC")
TARGET_S = 0.2
RUNS = 15


def read_csv(symbol: str) -> pd.DataFrame:
    """What a user writes without a cache: parse the CSV, normalise to UTC, pick OHLCV."""
    frame = pd.read_csv(PRICES / f"{symbol}.csv", parse_dates=["Date"], index_col="Date")
    frame.index = frame.index.tz_localize("UTC")
    frame = frame.rename(columns=str.lower)[["open", "high", "low", "close", "volume"]]
    return frame.dropna()


def median_seconds(work: Callable[[], object]) -> tuple[float, list[float]]:
    work()  # warm-up: imports, OS file cache
    runs = []
    for _ in range(RUNS):
        started = time.perf_counter()
        work()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs), runs


def main() -> None:
    if not PRICES.is_dir():
        sys.exit(f"{PRICES} not found: this benchmark reads ../shared/data")
    with tempfile.TemporaryDirectory() as directory:
        cache = BarCache(Path(directory))
        fetches = []

        def read_all_cached() -> None:
            for symbol in SYMBOLS:

                def fetch(start: pd.Timestamp, end: pd.Timestamp, symbol: str = symbol) -> pd.DataFrame:
                    fetches.append(symbol)
                    return read_csv(symbol)

                frame = cached_bars(
                    source="bench", symbol=symbol, interval="1d", start=START, end=END, fetch=fetch, cache=cache
                )
                assert len(frame) > 1000

        read_all_cached()  # fills the cache: 10 fetches
        filled = len(fetches)
        cache_s, cache_runs = median_seconds(read_all_cached)
        csv_s, csv_runs = median_seconds(lambda: [read_csv(symbol) for symbol in SYMBOLS])
        assert len(fetches) == filled == len(SYMBOLS), "a warm read fetched again"
        size = sum(entry.size_bytes for entry in cache.entries())
    result = {
        "benchmark": "bench/bench_cache.py",
        "symbols": len(SYMBOLS),
        "bars_per_symbol": 1258,
        "cache_read_s": round(cache_s, 4),
        "cache_runs_s": [round(r, 4) for r in cache_runs],
        "read_csv_s": round(csv_s, 4),
        "read_csv_runs_s": [round(r, 4) for r in csv_runs],
        "cache_over_read_csv": round(cache_s / csv_s, 3),
        "fetches_during_warm_reads": len(fetches) - filled,
        "cache_bytes": size,
        "target_s": TARGET_S,
        "meets_target": cache_s < TARGET_S,
    }
    out = ROOT / "bench" / "results" / "cache.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print("| what | median (s) |\n|---|---:|")
    print(f"| fintrade cache read, 10 symbols x 5 years daily (lock, Parquet, checksum) | {cache_s:.4f} |")
    print(f"| pandas.read_csv of the same 10 CSV files | {csv_s:.4f} |")
    verdict = "met" if cache_s < TARGET_S else "MISSED"
    print(f"\ncache / read_csv: {cache_s / csv_s:.2f}; target under {TARGET_S} s: {verdict}")
    print(f"requests during {RUNS + 1} warm reads: {len(fetches) - filled}; cache size {size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
