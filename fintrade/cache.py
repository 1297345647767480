"""The bar cache shared by every data source: Parquet files, incremental, atomic, locked.

A data source hands :func:`cached_bars` a ``fetch(start, end)`` function for one symbol; the
cache calls it only for the part of the requested range it does not hold yet, merges, and
writes the result through a temporary file and a rename under a file lock, so a reader never
sees half a file and two processes never interleave writes. Each file records the range it
covers (which may begin or end on days without bars) and a checksum of its rows and of that
record: a corrupt, truncated or edited file is detected and fetched again, never used (with
``--offline``, it is an error that names the file). A temporary file left by a writer that was
killed is removed by the next write of its key.

Layout: ``<cache dir>/bars/<source>/<interval>/<adjustment>/<symbol>.parquet``. The cache dir
is ``$FINTRADE_CACHE_DIR``, else ``$XDG_CACHE_HOME/fintrade``, else ``~/.cache/fintrade``.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

# DataWarning and interval_length live in leaf modules (so that fintrade.bars needs no cache);
# plugins and the core keep importing them from here.
from fintrade.errors import DataError, DataWarning
from fintrade.intervals import interval_length

if TYPE_CHECKING:
    import pandas as pd

Fetch = Callable[["pd.Timestamp", "pd.Timestamp"], "pd.DataFrame"]
"""Fetch bars with open times in ``[start, end)`` for one symbol (UTC timestamps)."""

FORMAT_VERSION = 2
"""Version 2 checksums the recorded metadata (the covered range) too; version 1 files, whose
checksum covers the rows only, are still read, and rewritten as version 2 by the next write."""
READABLE_VERSIONS = (1, 2)
METADATA_KEY = b"fintrade"


class PartialFetch(DataError):
    """A fetch returned only part of its range; ``bars`` up to ``covered_until`` are good."""

    def __init__(self, message: str, bars: pd.DataFrame, covered_until: pd.Timestamp) -> None:
        super().__init__(message)
        self.bars = bars
        self.covered_until = covered_until


def cache_root() -> Path:
    """Where the cache lives (see the module docstring)."""
    if os.environ.get("FINTRADE_CACHE_DIR"):
        return Path(os.environ["FINTRADE_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "fintrade"


def offline_mode() -> bool:
    """True when ``--offline`` (or ``FINTRADE_OFFLINE=1``) forbids touching the network."""
    return os.environ.get("FINTRADE_OFFLINE", "") not in ("", "0", "false")


def _safe(part: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]", "_", part)


@dataclass(frozen=True)
class CacheKey:
    """What identifies one cached series."""

    source: str
    symbol: str
    interval: str
    adjustment: str = "none"

    def path(self, root: Path) -> Path:
        return (
            root
            / "bars"
            / _safe(self.source)
            / _safe(self.interval)
            / _safe(self.adjustment)
            / (f"{_safe(self.symbol)}.parquet")
        )


@dataclass(frozen=True)
class CacheEntry:
    """One cached series, as ``fintrade data list`` shows it."""

    key: CacheKey
    start: pd.Timestamp
    end: pd.Timestamp
    rows: int
    size_bytes: int
    path: Path


CHECKED_FIELDS = ("version", "source", "symbol", "interval", "adjustment", "covered_start", "covered_end", "rows")
"""The recorded metadata the checksum covers (from version 2): editing any of them is corruption."""


def _checksum(frame: pd.DataFrame, meta: dict[str, Any]) -> str:
    digest = hashlib.sha256()
    digest.update(frame.index.asi8.tobytes())
    digest.update(frame.to_numpy(dtype=float).tobytes())
    digest.update(",".join(map(str, frame.columns)).encode())
    if meta.get("version", FORMAT_VERSION) >= 2:
        # The covered range decides what is never fetched again: a wrong one silently hides bars.
        digest.update(json.dumps({name: meta.get(name) for name in CHECKED_FIELDS}, sort_keys=True).encode())
    return digest.hexdigest()


def _temporary_files(path: Path) -> list[Path]:
    """The temporary files :meth:`BarCache.write` creates for ``path`` (``.<name>.<random>.tmp``)."""
    return sorted(path.parent.glob(f".{glob.escape(path.name)}.*.tmp"))


class CorruptCache(Exception):
    """A cache file that cannot be trusted (unreadable, truncated, checksum mismatch)."""


class BarCache:
    """Parquet files of bars under ``root``, one per :class:`CacheKey`."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or cache_root()
        # The keys whose lock this thread holds through this cache: write() takes the lock
        # itself otherwise (a second FileLock on a held path would wait for itself).
        self._held = threading.local()

    def _held_keys(self) -> set[CacheKey]:
        if not hasattr(self._held, "keys"):
            self._held.keys = set()
        held: set[CacheKey] = self._held.keys
        return held

    @contextmanager
    def lock(self, key: CacheKey) -> Iterator[None]:
        """Hold the key's file lock: one process at a time reads-merges-writes a series."""
        from filelock import FileLock

        path = key.path(self.root)
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(path) + ".lock"):
            self._held_keys().add(key)
            try:
                yield
            finally:
                self._held_keys().discard(key)

    def read(self, key: CacheKey) -> tuple[pd.DataFrame, pd.Timestamp, pd.Timestamp] | None:
        """The cached bars and the range they cover, or None; raises CorruptCache if untrustworthy."""
        path = key.path(self.root)
        if not path.exists():
            return None
        import pandas as pd
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
            meta = json.loads((table.schema.metadata or {})[METADATA_KEY])
            frame = table.to_pandas()
        except Exception as exc:
            raise CorruptCache(f"{type(exc).__name__}: {exc}") from exc
        if meta.get("version") not in READABLE_VERSIONS or meta.get("symbol") != key.symbol:
            raise CorruptCache("written by another format version or for another symbol")
        if len(frame) != meta.get("rows") or _checksum(frame, meta) != meta.get("sha256"):
            raise CorruptCache("contents do not match the recorded checksum")
        try:
            return frame, pd.Timestamp(meta["covered_start"]), pd.Timestamp(meta["covered_end"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptCache(f"unreadable covered range: {type(exc).__name__}: {exc}") from exc

    def write(self, key: CacheKey, frame: pd.DataFrame, covered_start: pd.Timestamp, covered_end: pd.Timestamp) -> None:
        """Replace the key's file atomically (temporary file in the same folder, fsync, rename).

        Holds the key's lock (taking it unless this thread holds it already), under which any
        temporary file of the key is a leftover from a writer that was killed: it is removed.
        """
        if key in self._held_keys():
            self._write(key, frame, covered_start, covered_end)
        else:
            with self.lock(key):
                self._write(key, frame, covered_start, covered_end)

    def _write(
        self, key: CacheKey, frame: pd.DataFrame, covered_start: pd.Timestamp, covered_end: pd.Timestamp
    ) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = key.path(self.root)
        path.parent.mkdir(parents=True, exist_ok=True)
        for leftover in _temporary_files(path):
            leftover.unlink(missing_ok=True)
        meta: dict[str, Any] = {
            "version": FORMAT_VERSION,
            "source": key.source,
            "symbol": key.symbol,
            "interval": key.interval,
            "adjustment": key.adjustment,
            "covered_start": covered_start.isoformat(),
            "covered_end": covered_end.isoformat(),
            "rows": len(frame),
        }
        meta["sha256"] = _checksum(frame, meta)
        table = pa.Table.from_pandas(frame, preserve_index=True)
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), METADATA_KEY: json.dumps(meta)})
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as stream:
                pq.write_table(table, stream)
                stream.flush()
                os.fsync(stream.fileno())
            os.chmod(temporary, 0o644)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def entries(self) -> list[CacheEntry]:
        """Every readable cached series (corrupt ones are listed with 0 rows)."""
        import pandas as pd
        import pyarrow.parquet as pq

        found = []
        for path in sorted((self.root / "bars").glob("*/*/*/*.parquet")):
            try:
                meta = json.loads((pq.read_schema(path).metadata or {})[METADATA_KEY])
                key = CacheKey(meta["source"], meta["symbol"], meta["interval"], meta["adjustment"])
                start, end, rows = pd.Timestamp(meta["covered_start"]), pd.Timestamp(meta["covered_end"]), meta["rows"]
            except Exception:
                source, interval, adjustment = path.parts[-4:-1]
                key = CacheKey(source, path.stem, interval, adjustment)
                start = end = pd.Timestamp("NaT")
                rows = 0
            found.append(CacheEntry(key, start, end, rows, path.stat().st_size, path))
        return found

    def clear(self, source: str | None = None, symbol: str | None = None, interval: str | None = None) -> int:
        """Delete the cached series matching every given filter; returns how many."""
        removed = 0
        for entry in self.entries():
            key = entry.key
            if (source, symbol, interval) != (
                source and key.source,
                symbol and key.symbol,
                interval and key.interval,
            ):
                continue
            with self.lock(key):
                entry.path.unlink(missing_ok=True)
            removed += 1
        # Stray temporary files from a writer that was killed mid-write are never read; sweep them.
        for stray in (self.root / "bars").glob("*/*/*/.*.tmp"):
            stray.unlink(missing_ok=True)
        return removed


def _missing(
    start: pd.Timestamp, end: pd.Timestamp, covered: tuple[pd.Timestamp, pd.Timestamp] | None
) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """The ranges to fetch so that the cache covers ``[start, end)`` in one contiguous piece."""
    if covered is None:
        return [(start, end)] if start < end else []
    covered_start, covered_end = covered
    gaps = []
    if start < covered_start:
        gaps.append((start, covered_start))
    if end > covered_end:
        gaps.append((covered_end, end))
    return gaps


def cached_bars(
    *,
    source: str,
    symbol: str,
    interval: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    fetch: Fetch,
    adjustment: str = "none",
    offline: bool | None = None,
    cache: BarCache | None = None,
    now: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Bars of ``symbol`` with open times in ``[start, end)``, fetching only what is not cached.

    The cached range never extends past the last closed bar, so a bar still forming is
    fetched again next time. With ``offline`` (default: ``--offline`` / ``FINTRADE_OFFLINE``),
    a missing range is an error instead of a fetch.
    """
    import pandas as pd

    from fintrade.bars import validate_bars

    cache = cache or BarCache()
    offline = offline_mode() if offline is None else offline
    key = CacheKey(source, symbol, interval, adjustment)
    where = f"source {source!r}, symbol {symbol!r}, interval {interval}"
    step = interval_length(interval)
    now = now or pd.Timestamp.now(tz="UTC")
    # Only closed bars are cached: a bar opening at o has closed once o + step <= now. Daily bars
    # are labelled by their (UTC) date, so every day before today has closed; intraday bars need
    # not sit on the UTC grid (US hourly bars open at :30), so the rule is applied directly.
    end = min(end, now.floor("D") if step == pd.Timedelta(days=1) else now - step)
    if start >= end:
        raise DataError(f"{where}: empty date range {start} to {end}")

    with cache.lock(key):
        try:
            cached = cache.read(key)
        except CorruptCache as exc:
            if offline:
                # Kept in place: a run without --offline replaces it, and it may be worth a look.
                raise DataError(
                    f"{where}: cache file {key.path(cache.root)} is corrupt ({exc}) and offline mode cannot "
                    "fetch it again; run without --offline to download it again"
                ) from exc
            # Not deleted here: the write after the fetch replaces it, and a failed fetch keeps it.
            warnings.warn(
                f"{where}: cache file {key.path(cache.root)} is corrupt ({exc}); fetching it again",
                DataWarning,
                stacklevel=2,
            )
            cached = None
        frame = cached[0] if cached else None
        covered = (cached[1], cached[2]) if cached else None
        gaps = _missing(start, end, covered)
        if gaps and offline:
            first = gaps[0]
            raise DataError(
                f"{where}: offline and {first[0]} to {first[1]} is not cached; "
                "run without --offline (or `fintrade data fetch`) to download it"
            )
        partial: PartialFetch | None = None
        for gap_start, gap_end in gaps:
            try:
                fetched = fetch(gap_start, gap_end)
                reached = gap_end
            except PartialFetch as exc:
                fetched, reached, partial = exc.bars, exc.covered_until, exc
            fetched = _prepare(fetched, where, gap_start, reached, validate_bars)
            frame = fetched if frame is None else _merge(frame, fetched)
            # The covered range grows only where the fetch joins it without a hole.
            if covered is None:
                covered = (gap_start, reached)
            elif gap_start == covered[1]:
                covered = (covered[0], reached)
            elif gap_end == covered[0] and reached == gap_end:
                covered = (gap_start, covered[1])
            # Written after each gap: a failure fetching the next one keeps what this one got.
            if covered[0] < covered[1]:
                cache.write(key, frame, covered[0], covered[1])
            if partial is not None:
                break
    if partial is not None:
        raise DataError(f"{where}: {partial}; the part received is cached, the rest will be fetched next time")
    assert frame is not None  # a first fetch always runs when nothing is cached
    return frame.loc[(frame.index >= start) & (frame.index < end)]


def _prepare(frame: pd.DataFrame, where: str, start: pd.Timestamp, end: pd.Timestamp, validate: Any) -> pd.DataFrame:
    """Validate a download and keep only its bars inside ``[start, end)``."""
    import pandas as pd

    from fintrade.types import OHLCV_COLUMNS

    if not frame.empty:
        duplicated = frame.index.duplicated(keep="last")
        if duplicated.any():
            warnings.warn(
                f"{where}: {int(duplicated.sum())} duplicate bar(s) in the download, kept the last",
                DataWarning,
                stacklevel=3,
            )
            frame = frame.loc[~duplicated]
        frame = validate(frame.sort_index(), where)
        frame = frame.loc[(frame.index >= start) & (frame.index < end)]
    if frame.empty:
        # A range without bars (a weekend, a halt) is still a range we know: cache it as empty.
        return pd.DataFrame(
            {column: pd.Series(dtype=float) for column in OHLCV_COLUMNS},
            index=pd.DatetimeIndex([], tz="UTC"),
        )
    return frame


def _merge(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    if old.empty:
        return new
    if new.empty:
        return old
    merged = pd.concat([old, new])
    # A page boundary or an extension may return a bar we already hold: the newer copy wins.
    return merged.loc[~merged.index.duplicated(keep="last")].sort_index()
