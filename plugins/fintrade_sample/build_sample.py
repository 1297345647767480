"""Rebuild the bundled sample data from a StockNet copy: ``python build_sample.py [SOURCE]``.

``SOURCE`` is a folder laid out like ``shared/data/stocknet`` (``price_raw/<TICKER>.csv``,
``tweets_raw_text.csv.gz``, ``LICENSE``); by default ``../shared/data/stocknet`` relative to
the repository root. The output is byte-for-byte reproducible: price files and the licence
are copied unchanged, and the tweet subset keeps the source's lines verbatim (only lines for
:data:`TICKERS`, in the source's time order) in a gzip stream with no name and no timestamp.
"""

from __future__ import annotations

import csv
import gzip
import shutil
import sys
from pathlib import Path

TICKERS: tuple[str, ...] = ("AAPL", "AMZN", "GOOG", "MSFT", "JPM")
TWEETS_FILE = "tweets_raw_text.csv.gz"
TWEET_COLUMNS = ["created_at_utc", "ticker", "tweet_id", "text"]

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = PACKAGE_DIR / "data"
DEFAULT_SOURCE = PACKAGE_DIR.parents[2] / "shared" / "data" / "stocknet"


def copy_prices(source: Path, target: Path) -> None:
    """Copy ``price_raw/<TICKER>.csv`` for every bundled ticker, unchanged."""
    (target / "price_raw").mkdir(parents=True, exist_ok=True)
    for ticker in TICKERS:
        shutil.copyfile(source / "price_raw" / f"{ticker}.csv", target / "price_raw" / f"{ticker}.csv")


def subset_tweets(source: Path, target: Path) -> int:
    """Write the tweets of :data:`TICKERS` to ``target``; return how many were kept.

    The source holds one record per line (its texts had whitespace collapsed), so each line
    is parsed only to read its ticker and then written back untouched: no re-quoting.
    """
    kept = 0
    with gzip.open(source, "rt", encoding="utf-8", newline="") as lines:
        header = next(lines)
        if next(csv.reader([header])) != TWEET_COLUMNS:
            raise SystemExit(f"{source}: unexpected header {header.strip()!r}")
        # mtime=0 and no file name: the same input always gives the same bytes.
        with (
            open(target, "wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as packed,
        ):
            packed.write(header.encode("utf-8"))
            for line in lines:
                record = next(csv.reader([line]))
                if len(record) != len(TWEET_COLUMNS):
                    raise SystemExit(f"{source}: a record spans several lines near tweet {record[:3]}")
                if record[1] in TICKERS:
                    packed.write(line.encode("utf-8"))
                    kept += 1
    return kept


def main(argv: list[str]) -> int:
    source = Path(argv[1]) if len(argv) > 1 else DEFAULT_SOURCE
    if not (source / TWEETS_FILE).is_file():
        print(f"no StockNet copy at {source} (expected {TWEETS_FILE} there)", file=sys.stderr)
        return 1
    DATA_DIR.mkdir(exist_ok=True)
    copy_prices(source, DATA_DIR)
    shutil.copyfile(source / "LICENSE", DATA_DIR / "LICENSE")
    kept = subset_tweets(source / TWEETS_FILE, DATA_DIR / TWEETS_FILE)
    size = (DATA_DIR / TWEETS_FILE).stat().st_size
    print(f"wrote {len(TICKERS)} price files and {kept} tweets ({size / 1e6:.2f} MB) to {DATA_DIR}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
