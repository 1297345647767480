"""The self-contained HTML report of a backtest: header, equity and drawdown charts, tables.

A report has to open years later on a machine with no network, and must not phone home when
it does, so everything is inline: CSS in one ``<style>`` block, charts as SVG, no scripts,
fonts or images. A Content-Security-Policy tells the browser to fetch nothing at all, which
holds even if some text slips through unescaped. Every string that came from a strategy, a
plugin or the data (names, symbols, parameters, warnings, the manifest) is passed through
:func:`html.escape`.
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
import os
import secrets
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fintrade import __version__
from fintrade.inference import Overfitting, SignificanceResult
from fintrade.metrics import ANNUALISED
from fintrade.regimes import REGIMES, WARMUP
from fintrade.results import METRIC_NAMES, KnowledgeCutoff, Span, WindowMetrics

if TYPE_CHECKING:
    from fintrade.evaluation import BacktestResult

__all__ = ["format_metric", "render_report", "write_report"]

#: Most points per polyline; more adds kilobytes, not detail a screen can show.
MAX_POINTS = 1500

#: Metrics shown as percentages; the rest are ratios (2 decimals) or counts.
PERCENT_METRICS = frozenset({"total_return", "cagr", "max_drawdown", "volatility", "exposure", "win_rate"})
COUNT_METRICS = frozenset({"trades"})
METRIC_LABELS = {
    "total_return": "Return",
    "cagr": "CAGR",
    "sharpe": "Sharpe",
    "sortino": "Sortino",
    "max_drawdown": "Max DD",
    "volatility": "Volatility",
    "exposure": "Exposure",
    "turnover": "Turnover",
    "trades": "Trades",
    "win_rate": "Win rate",
}
MISSING = "–"
#: Shown instead of an annualised figure over a window too short for it to mean anything.
NOT_MEANINGFUL = "n/m"
REGIME_LABELS = {WARMUP: "warm-up"}

LINE_COLOURS = {
    "strategy": "#2563eb",
    "walk_forward": "#ea580c",
    "benchmark": "#4b5563",
    # Baselines, in the order the strategy names them.
    "baseline1": "#7c3aed",
    "baseline2": "#0891b2",
    "baseline3": "#ca8a04",
    "baseline4": "#db2777",
}
BASELINE_KEYS = ("baseline1", "baseline2", "baseline3", "baseline4")
REGIME_COLOURS = {"bull": "#16a34a", "bear": "#dc2626", "sideways": "#a8a29e"}
BAND_OPACITY = 0.14
SERIES_LABELS = {"strategy": "Strategy", "benchmark": "Buy & hold", "walk_forward": "Walk-forward"}

# Chart geometry in SVG user units; the SVG scales to the page width through its viewBox.
CHART_WIDTH = 1100
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 62, 14, 20, 26


def write_report(result: BacktestResult, path: Path, *, log_scale: bool | None = None) -> None:
    """Write the HTML report of ``result`` to ``path``, replacing any earlier report atomically.

    The report is streamed into a temporary file beside ``path`` and renamed over it only when
    complete, so a failure (or a reader opening the file meanwhile) never meets half a report.
    ``log_scale`` picks the equity axis; ``None`` chooses log when the curves span more than 4x.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Same directory, so os.replace is a rename on one filesystem; open() (not mkstemp) so the
    # report gets the user's umask permissions rather than 0600.
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        with temporary.open("x", encoding="utf-8") as stream:
            for chunk in _sections(result, log_scale):
                stream.write(chunk)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def render_report(result: BacktestResult, *, log_scale: bool | None = None) -> str:
    """The report as one HTML string (what :func:`write_report` writes)."""
    return "".join(_sections(result, log_scale))


def _sections(result: BacktestResult, log_scale: bool | None) -> Iterator[str]:
    yield _head(result)
    yield _header(result)
    yield _charts(result, log_scale)
    yield _tables(result)
    yield _footer(result)


# --- formatting -------------------------------------------------------------------------------


def _e(value: Any) -> str:
    """Escaped text, quotes included, so the same helper is safe inside attributes."""
    return html.escape(str(value), quote=True)


def _finite(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def format_metric(name: str, value: Any) -> str:
    """``0.1234`` -> ``12.34%`` for returns and the like, ``1.23`` for ratios, ``–`` when missing."""
    number = _finite(value)
    if number is None:
        return MISSING
    if name in PERCENT_METRICS:
        return f"{number * 100:.2f}%"
    if name in COUNT_METRICS:
        return f"{number:.0f}"
    return f"{number:.2f}"


def _date(text: str | None) -> str:
    """An ISO timestamp as a date, with the time only when it is not midnight."""
    if not text:
        return MISSING
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return str(text)
    if (moment.hour, moment.minute, moment.second) == (0, 0, 0):
        return moment.strftime("%Y-%m-%d")
    return moment.strftime("%Y-%m-%d %H:%M")


def _params_html(params: Mapping[str, Any] | None) -> str:
    if not params:
        return "<span class=muted>defaults</span>"
    return "<br>".join(
        f"<code>{_e(name)}</code>&nbsp;=&nbsp;<code>{_e(value)}</code>" for name, value in params.items()
    )


def _costs_html(costs: Mapping[str, Any]) -> str:
    """The non-zero costs, one per line: fractions of price as percentages, fixed fees as currency."""
    lines = []
    for name, value in costs.items():
        number = _finite(value)
        if number == 0:
            continue
        if number is None:
            text = MISSING
        elif name == "fixed_fees":
            text = f"{number:g}"
        else:
            text = f"{number * 100:.3g}%"
        lines.append(f"{_e(name.replace('_', ' '))} {_e(text)}")
    return "<br>".join(lines) or "none"


# --- page frame -------------------------------------------------------------------------------

_CSS = """
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
  color: #1f2937; background: #fff; max-width: 1280px; margin: 0 auto; padding: 18px 24px 40px; }
h1 { font-size: 24px; margin: 0 0 6px; }
h2 { font-size: 17px; margin: 28px 0 6px; border-bottom: 1px solid #e5e7eb; padding-bottom: 3px; }
dl.summary { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 8px 0; }
dl.summary dt { color: #6b7280; }
dl.summary dd { margin: 0; }
ul.warnings { background: #fef3c7; border: 1px solid #f59e0b; border-radius: 4px; padding: 6px 10px 6px 28px; }
.muted { color: #6b7280; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
ul.legend { list-style: none; padding: 0; margin: 4px 0; display: flex; flex-wrap: wrap; gap: 4px 18px;
  font-size: 12.5px; }
ul.legend li { display: flex; align-items: center; gap: 6px; }
.swatch { display: inline-block; width: 22px; height: 12px; }
.swatch.line { height: 3px; }
.swatch.band { opacity: 0.45; }
.swatch.marker { width: 0; height: 14px; border-left: 2px dashed #111827; }
.swatch.cutoff { background: repeating-linear-gradient(45deg, #6b7280 0 2px, transparent 2px 6px); }
dd.cutoff { color: #92400e; }
svg.chart { width: 100%; height: auto; display: block; }
svg.chart text { font: 11px system-ui, sans-serif; fill: #4b5563; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: 12px; margin: 4px 0 6px; }
caption { text-align: left; color: #6b7280; padding: 2px 0 4px; caption-side: top; }
th, td { padding: 3px 5px; border-bottom: 1px solid #e5e7eb; vertical-align: top; }
th { background: #f3f4f6; text-align: left; white-space: nowrap; }
td { white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.neg { color: #b91c1c; }
td.nm { color: #9ca3af; }
tr.benchmark td.num, tr.benchmark td.series { color: #6b7280; }
tr.chosen td { background: #eff6ff; }
footer { margin-top: 32px; border-top: 1px solid #e5e7eb; padding-top: 8px; font-size: 12.5px; color: #6b7280; }
#verdict { font-weight: 600; }
#significance td:last-child { white-space: normal; }
#pbo-logits { margin: 4px 0 8px; max-width: 520px; }
#pbo-logits svg { width: 100%; height: auto; }
#pbo-logits rect.pos { fill: #2563eb; }
#pbo-logits rect.neg { fill: #dc2626; }
#pbo-logits line.zero { stroke: #111827; stroke-dasharray: 3 3; }
#pbo-logits text, #pbo-logits figcaption { font-size: 11px; fill: #4b5563; color: #6b7280; }
details#trade-list summary { cursor: pointer; margin-top: 20px; color: #374151; }
footer pre { background: #f9fafb; border: 1px solid #e5e7eb; padding: 8px; overflow-x: auto; color: #1f2937; }
"""


def _head(result: BacktestResult) -> str:
    swatches = "".join(
        f".c-{key} {{ background: {colour}; }}\n" for key, colour in {**LINE_COLOURS, **REGIME_COLOURS}.items()
    )
    return (
        "<!DOCTYPE html>\n<html lang=en>\n<head>\n<meta charset=utf-8>\n"
        # Nothing is ever fetched: no scripts, fonts, images or frames, inline styles only.
        "<meta http-equiv=Content-Security-Policy "
        "content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n"
        '<meta name=viewport content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(result.strategy)} – fintrade backtest</title>\n"
        f"<style>{_CSS}{swatches}</style>\n</head>\n<body>\n"
    )


def _header(result: BacktestResult) -> str:
    walk_forward = result.walk_forward
    wf_text = f"{_e(walk_forward.mode)}, {len(walk_forward.folds)} folds" if walk_forward else "off"

    rows = [
        ("Symbols", _e(", ".join(map(str, result.symbols)))),
        ("Period", f"{_e(_date(result.start))} – {_e(_date(result.end))}"),
        ("Bars", f"{result.bars:,}"),
        ("Combinations swept", f"{result.combinations:,}"),
        ("Objective", f"<code>{_e(result.objective)}</code>, maximised on the train split"),
        ("Chosen parameters", _params_html(result.chosen)),
        ("Walk-forward", wf_text),
    ]
    if result.knowledge_cutoff:
        rows.append(("Knowledge cutoff", _cutoff_text(result.knowledge_cutoff)))
    if result.significance is not None:
        rows.append(("Verdict", f'{_e(result.significance.verdict)} (<a href="#significance">how</a>)'))
    parts = [f"<header id=summary>\n<h1>{_e(result.strategy)}</h1>\n<dl class=summary>\n"]
    parts += [f"<dt>{name}</dt><dd{HEADER_ATTRIBUTES.get(name, '')}>{value}</dd>\n" for name, value in rows]
    parts.append("</dl>\n")
    if result.warnings:
        parts.append("<ul class=warnings id=warnings>\n")
        parts += [f"<li>{_e(warning)}</li>\n" for warning in result.warnings]
        parts.append("</ul>\n")
    parts.append("</header>\n")
    return "".join(parts)


WINDOW_LABELS = {"test": "test", "walk_forward": "walk-forward out-of-sample"}
HEADER_ATTRIBUTES = {"Knowledge cutoff": " class=cutoff id=knowledge-cutoff", "Verdict": " id=verdict"}


def _cutoff_text(cutoff: KnowledgeCutoff) -> str:
    """``2015-06-30: 40 of 250 test bars ... at or before it``, for the header."""
    counts = ", ".join(
        f"{_e(row.flagged_bars)} of {_e(row.bars)} {_e(WINDOW_LABELS.get(name, name))} bars"
        for name, row in cutoff.windows.items()
    )
    return (
        f"{_e(_date(cutoff.cutoff))}: a signal model was trained on data up to this date; {counts} fall at "
        "or before it, where the model may have seen what came next (hatched in the charts; metrics without them "
        '<a href="#cutoff">below</a>)'
    )


def _footer(result: BacktestResult) -> str:
    if result.manifest is not None:
        manifest = json.dumps(result.manifest.to_dict(), indent=2, default=str, ensure_ascii=False)
        details = f"<details id=manifest><summary>Run manifest</summary>\n<pre>{_e(manifest)}</pre>\n</details>\n"
    else:
        details = "<p id=manifest>No run manifest was recorded for this result.</p>\n"
    return (
        f"<footer id=footer>\n{details}<p>Generated by fintrade {_e(__version__)}.</p>\n</footer>\n</body>\n</html>\n"
    )


# --- charts -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Line:
    """One curve to draw: NaN where it has no value (the walk-forward line before its first fold)."""

    key: str
    label: str
    values: np.ndarray


@dataclasses.dataclass(frozen=True)
class _Frame:
    """Maps data (seconds since the first bar, value) to SVG coordinates."""

    height: int
    x_max: float
    y_lo: float
    y_hi: float
    log: bool

    @property
    def plot_width(self) -> float:
        return CHART_WIDTH - MARGIN_LEFT - MARGIN_RIGHT

    @property
    def bottom(self) -> float:
        return self.height - MARGIN_BOTTOM

    def x(self, seconds: np.ndarray | float) -> np.ndarray:
        return MARGIN_LEFT + np.asarray(seconds, dtype=float) / self.x_max * self.plot_width

    def y(self, values: np.ndarray | float) -> np.ndarray:
        scaled = np.asarray(values, dtype=float)
        if self.log:
            scaled = np.log10(scaled)
        span = (self.y_hi - self.y_lo) or 1.0
        return np.asarray(MARGIN_TOP + (self.y_hi - scaled) / span * (self.bottom - MARGIN_TOP))


def _sample_positions(lines: Sequence[np.ndarray], max_points: int = MAX_POINTS) -> np.ndarray:
    """At most ``max_points`` bar positions that keep every line's highs and lows.

    A plain stride could step over the worst drawdown; taking each line's min and max in every
    bucket keeps the shape a reader judges the strategy by.
    """
    n = len(lines[0])
    if n <= max_points:
        return np.arange(n)
    buckets = max(1, (max_points - 2 - len(lines)) // (2 * len(lines)))
    edges = np.linspace(0, n, buckets + 1).astype(int)
    keep = [np.array([0, n - 1])]
    for values in lines:
        finite = np.flatnonzero(np.isfinite(values))
        if len(finite):
            keep.append(finite[:1])  # where a late-starting line begins
    for start, stop in pairwise(edges):
        for values in lines:
            chunk = values[start:stop]
            if stop > start and np.isfinite(chunk).any():
                keep.append(start + np.array([np.nanargmin(chunk), np.nanargmax(chunk)]))
    return np.unique(np.concatenate(keep))


def _linear_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round-numbered ticks (steps of 1, 2 or 5 times a power of ten) inside ``[lo, hi]``."""
    if not hi > lo:
        return [lo]
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.ceil(lo / step) * step
    return [round(first + i * step, 12) for i in range(int((hi - first) / step + 1e-9) + 1)]


def _log_ticks(lo: float, hi: float) -> list[float]:
    """1-2-5 ticks per decade inside ``[lo, hi]``, falling back to linear ones for a narrow range."""
    candidates = [
        m * 10.0**k for k in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1) for m in (1, 2, 5)
    ]
    ticks = [t for t in candidates if lo <= t <= hi]
    if len(ticks) > 8:
        ticks = [t for t in ticks if math.isclose(math.log10(t) % 1, 0, abs_tol=1e-9)] or ticks[::3]
    return ticks if len(ticks) >= 3 else _linear_ticks(lo, hi)


def _time_ticks(index: pd.DatetimeIndex, limit: int = 10) -> list[tuple[pd.Timestamp, str]]:
    """Calendar-aligned x ticks (years, quarters, months, days or hours) for the span shown."""
    days = (index[-1] - index[0]).total_seconds() / 86400
    steps = (
        (3 * 365, "YS", "%Y"),
        (180, "QS", "%Y-%m"),
        (30, "MS", "%Y-%m"),
        (2, "D", "%Y-%m-%d"),
        (0, "h", "%m-%d %H:%M"),
    )
    freq, fmt = next((f, fmt) for minimum, f, fmt in steps if days >= minimum)
    ticks = pd.date_range(index[0], index[-1], freq=freq)
    if len(ticks) > limit:
        ticks = ticks[:: math.ceil(len(ticks) / limit)]
    return [(tick, tick.strftime(fmt)) for tick in ticks]


def _seconds(index: pd.DatetimeIndex, moments: pd.DatetimeIndex | pd.Timestamp) -> Any:
    return (moments - index[0]).total_seconds()


def _split_markers(result: BacktestResult, index: pd.DatetimeIndex) -> list[tuple[str, float]]:
    """Where each split starts, in seconds from the first bar; splits outside the chart are left out."""
    markers = []
    for name, split in result.splits.items():
        if split.span.start is None:
            continue
        try:
            moment = pd.Timestamp(split.span.start)
        except ValueError:
            continue
        if moment.tzinfo is None and index.tz is not None:
            moment = moment.tz_localize(index.tz)
        if index[0] <= moment <= index[-1]:
            markers.append((name, float(_seconds(index, moment))))
    return markers


def _regime_bands(seconds: np.ndarray, regime: np.ndarray, frame: _Frame) -> str:
    """Background rectangles, one per run of a regime, resolved to the pixel.

    Sampling the label at each pixel column bounds the number of rectangles by the chart width
    however often the regime flips in hourly data.
    """
    columns = int(frame.plot_width)
    moments = np.arange(columns) / columns * frame.x_max
    labels = np.asarray(regime)[np.clip(np.searchsorted(seconds, moments, side="right") - 1, 0, len(regime) - 1)]
    changes = np.flatnonzero(labels[1:] != labels[:-1]) + 1
    starts, stops = np.r_[0, changes], np.r_[changes, columns]
    rects = []
    for start, stop in zip(starts, stops, strict=True):
        label = str(labels[start])
        if label not in REGIME_COLOURS:  # warmup bars have no regime yet
            continue
        rects.append(
            f'<rect class="band band-{label}" data-regime="{label}" x="{MARGIN_LEFT + start}" y="{MARGIN_TOP}" '
            f'width="{stop - start}" height="{frame.bottom - MARGIN_TOP:.0f}" '
            f'fill="{REGIME_COLOURS[label]}" fill-opacity="{BAND_OPACITY}"/>'
        )
    return "\n".join(rects)


def _cutoff_span(curves: Any, index: pd.DatetimeIndex) -> float | None:
    """Seconds from the first bar to the end of the last bar at or before the knowledge cutoff."""
    flagged = getattr(curves, "pre_cutoff", None)
    if flagged is None or not np.asarray(flagged).any():
        return None
    last = int(np.flatnonzero(np.asarray(flagged))[-1])
    end = index[min(last + 1, len(index) - 1)]  # a bar lasts until the next one opens
    return float(_seconds(index, end))


def _cutoff_shading(chart_id: str, span: float | None, frame: _Frame) -> str:
    """A hatched band over the bars a model may have seen past, ending in a dashed line."""
    if span is None:
        return ""
    x = float(frame.x(span))
    pattern = f"{chart_id}-cutoff-hatch"
    return (
        f'<defs><pattern id="{pattern}" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" stroke="#6b7280" stroke-width="1.5" '
        'stroke-opacity="0.45"/></pattern></defs>'
        f'<rect class="pre-cutoff" x="{MARGIN_LEFT}" y="{MARGIN_TOP}" width="{x - MARGIN_LEFT:.1f}" '
        f'height="{frame.bottom - MARGIN_TOP:.0f}" fill="url(#{pattern})"/>'
        f'<line class="cutoff-marker" x1="{x:.1f}" x2="{x:.1f}" y1="{MARGIN_TOP}" y2="{frame.bottom}" '
        'stroke="#92400e" stroke-width="1.2" stroke-dasharray="2 2"/>'
        f'<text x="{x - 4:.1f}" y="{MARGIN_TOP + 12}" text-anchor="end">knowledge cutoff</text>'
    )


def _polylines(line: _Line, xs: np.ndarray, frame: _Frame) -> str:
    """One polyline per unbroken stretch of finite values."""
    ys = frame.y(line.values)
    finite = np.isfinite(ys)
    pieces = []
    # Runs of finite points, found by where ``finite`` switches on and off.
    edges = np.flatnonzero(np.diff(np.r_[0, finite.astype(int), 0]))
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs[start:stop], ys[start:stop], strict=True))
        pieces.append(
            f'<polyline class="line line-{line.key}" data-series="{line.key}" fill="none" '
            f'stroke="{LINE_COLOURS[line.key]}" stroke-width="1.6" stroke-linejoin="round" points="{points}"/>'
        )
    return "\n".join(pieces)


def _svg_chart(
    chart_id: str,
    title: str,
    index: pd.DatetimeIndex,
    lines: Sequence[_Line],
    regime: np.ndarray,
    markers: Sequence[tuple[str, float]],
    frame: _Frame,
    y_ticks: Sequence[tuple[float, str]],
    cutoff_span: float | None = None,
) -> str:
    seconds = np.asarray(_seconds(index, index), dtype=float)
    positions = _sample_positions([line.values for line in lines])
    xs = frame.x(seconds[positions])
    parts = [
        f'<svg class=chart id="{chart_id}" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'viewBox="0 0 {CHART_WIDTH} {frame.height}" aria-label="{_e(title)}">',
        f"<title>{_e(title)}</title>",
        _regime_bands(seconds, regime, frame),
        _cutoff_shading(chart_id, cutoff_span, frame),
    ]
    for value, label in y_ticks:
        y = float(frame.y(value))
        parts.append(
            f'<line x1="{MARGIN_LEFT}" x2="{CHART_WIDTH - MARGIN_RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#d1d5db" stroke-width="0.6"/>'
            f'<text x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_e(label)}</text>'
        )
    for moment, label in _time_ticks(index):
        x = float(frame.x(_seconds(index, moment)))
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{frame.bottom}" y2="{frame.bottom + 4}" stroke="#9ca3af"/>'
            f'<text x="{x:.1f}" y="{frame.bottom + 16}" text-anchor="middle">{_e(label)}</text>'
        )
    for name, moment in markers:
        x = float(frame.x(moment))
        parts.append(
            f'<line class="split-marker" data-split="{_e(name)}" x1="{x:.1f}" x2="{x:.1f}" y1="{MARGIN_TOP - 6}" '
            f'y2="{frame.bottom}" stroke="#111827" stroke-width="1" stroke-dasharray="4 3"/>'
            f'<text x="{x + 4:.1f}" y="{MARGIN_TOP - 8}">{_e(name)}</text>'
        )
    parts += [_polylines(dataclasses.replace(line, values=line.values[positions]), xs, frame) for line in lines]
    parts.append(
        f'<rect x="{MARGIN_LEFT}" y="{MARGIN_TOP}" width="{frame.plot_width:.0f}" '
        f'height="{frame.bottom - MARGIN_TOP:.0f}" fill="none" stroke="#9ca3af" stroke-width="0.8"/>'
    )
    parts.append("</svg>")
    return "\n".join(part for part in parts if part)


def _lines(result: BacktestResult) -> list[_Line]:
    """The equity curves to draw; the walk-forward one starts where its first fold trades.

    Before its first out-of-sample window the stitched curve is flat by construction; drawing
    that would look like a strategy that sat in cash. It is rebased to buy-and-hold's level at
    its start, so the gap between the two lines is the out-of-sample excess.
    """
    curves = result.curves
    lines = [
        _Line(
            "strategy",
            "Strategy, chosen parameters over the full period (in-sample before the validation marker)",
            np.asarray(curves.strategy, dtype=float),
        ),
    ]
    if curves.walk_forward is not None and result.walk_forward and result.walk_forward.folds:
        first = pd.Timestamp(result.walk_forward.folds[0].out_of_sample.start)
        # The first out-of-sample bar earns its return from the previous close: start there.
        start = max(int(curves.index.searchsorted(first)) - 1, 0)
        stitched = np.asarray(curves.walk_forward, dtype=float)
        benchmark = np.asarray(curves.benchmark, dtype=float)
        values = np.full(len(stitched), np.nan)
        values[start:] = stitched[start:] / stitched[start] * benchmark[start]
        lines.append(
            _Line("walk_forward", "Walk-forward out-of-sample, stitched (rebased to buy & hold at its start)", values)
        )
    lines.append(_Line("benchmark", "Buy & hold, equal amount per symbol", np.asarray(curves.benchmark, dtype=float)))
    window = "walk-forward out-of-sample" if result.walk_forward else "chosen parameters, full period"
    for key, (name, curve) in zip(BASELINE_KEYS, result.baseline_curves.items(), strict=False):
        values = np.asarray(curve, dtype=float).copy()
        start = _first_active(lines[1].values) if len(lines) > 2 else 0
        values[:start] = np.nan
        values[start:] = values[start:] / values[start] * float(curves.benchmark[start])
        lines.append(_Line(key, f"Baseline {name} ({window})", values))
    return lines


def _first_active(values: np.ndarray) -> int:
    finite = np.flatnonzero(np.isfinite(values))
    return int(finite[0]) if len(finite) else 0


def _drawdown(values: np.ndarray) -> np.ndarray:
    peak = np.fmax.accumulate(np.where(np.isfinite(values), values, -np.inf))
    with np.errstate(divide="ignore", invalid="ignore"):
        drawdown = values / peak - 1.0
    return np.where(np.isfinite(values), drawdown, np.nan)


def _legend(lines: Sequence[_Line], cutoff: bool = False) -> str:
    items = [f'<li><span class="swatch line c-{line.key}"></span>{_e(line.label)}</li>' for line in lines]
    items += [f'<li><span class="swatch band c-{label}"></span>{label} regime</li>' for label in REGIME_COLOURS]
    items.append('<li><span class="swatch marker"></span>split start (train / validation / test)</li>')
    if cutoff:
        items.append('<li><span class="swatch cutoff"></span>at or before a signal model\'s knowledge cutoff</li>')
    return "<ul class=legend>" + "".join(items) + "</ul>\n"


def _charts(result: BacktestResult, log_scale: bool | None) -> str:
    curves = result.curves
    index = pd.DatetimeIndex(curves.index)
    if len(index) < 2:
        return "<p class=muted>Too few bars to chart.</p>\n"
    lines = _lines(result)
    regime = np.asarray(curves.regime)
    markers = _split_markers(result, index)
    cutoff_span = _cutoff_span(curves, index)
    x_max = max(float(_seconds(index, index[-1])), 1.0)

    drawn = np.concatenate([line.values[np.isfinite(line.values)] for line in lines])
    lo, hi = float(drawn.min()), float(drawn.max())
    if log_scale is None:
        log_scale = lo > 0 and hi / lo > 4
    log_scale = bool(log_scale and lo > 0)  # a curve at or below zero has no logarithm
    if log_scale:
        pad = (math.log10(hi) - math.log10(lo)) * 0.05 or 0.01
        equity = _Frame(360, x_max, math.log10(lo) - pad, math.log10(hi) + pad, log=True)
        ticks = _log_ticks(10**equity.y_lo, 10**equity.y_hi)
    else:
        pad = (hi - lo) * 0.05 or 0.01
        equity = _Frame(360, x_max, lo - pad, hi + pad, log=False)
        ticks = _linear_ticks(equity.y_lo, equity.y_hi)
    equity_ticks = [(t, f"{t:g}") for t in ticks]

    drawdowns = [_Line(line.key, line.label, _drawdown(line.values)) for line in lines]
    deepest = min(float(np.nanmin(line.values)) for line in drawdowns)
    low = min(deepest * 1.05, -0.01)
    drawdown = _Frame(220, x_max, low, 0.0, log=False)
    drawdown_ticks = [(t, f"{t * 100 + 0.0:.0f}%") for t in _linear_ticks(low, 0.0, count=4)]  # no "-0%"

    scale = "log scale" if log_scale else "linear scale"
    return (
        "<section id=charts>\n"
        f"<h2>Equity <span class=muted>(growth of 1, {scale})</span></h2>\n"
        + _legend(lines, cutoff=cutoff_span is not None)
        + _svg_chart("equity-chart", "Equity curves", index, lines, regime, markers, equity, equity_ticks, cutoff_span)
        + "\n<h2>Drawdown</h2>\n"
        + _svg_chart(
            "drawdown-chart", "Drawdowns", index, drawdowns, regime, markers, drawdown, drawdown_ticks, cutoff_span
        )
        + "\n</section>\n"
    )


# --- tables -----------------------------------------------------------------------------------


def _metric_columns(rows: Sequence[WindowMetrics | None], shown: Sequence[str] = METRIC_NAMES) -> list[str]:
    """The metrics of ``shown`` in their usual order; none when no row has figures."""
    return [name for name in METRIC_NAMES if name in shown] if any(row is not None for row in rows) else []


def _metric_cells(values: WindowMetrics | None, columns: Sequence[str]) -> str:
    short = values is not None and not values.annualised_meaningful
    cells = []
    for name in columns:
        value = values.get(name) if values is not None else None
        number = _finite(value)
        if short and name in ANNUALISED and number is not None:
            # The figure stays in the tooltip (and the JSON); the cell says it means nothing.
            title = f"{format_metric(name, value)}, annualised from a window too short to mean anything"
            cells.append(f'<td class="num nm" title="{_e(title)}">{NOT_MEANINGFUL}</td>')
            continue
        negative = " neg" if number is not None and number < 0 and name in ("total_return", "cagr", "sharpe") else ""
        cells.append(f'<td class="num{negative}">{_e(format_metric(name, value))}</td>')
    return "".join(cells)


def _head_cells(names: Sequence[str], columns: Sequence[str]) -> str:
    labels = [*names, *(METRIC_LABELS.get(column, column.replace("_", " ")) for column in columns)]
    return "<thead><tr>" + "".join(f"<th>{_e(label)}</th>" for label in labels) + "</tr></thead>\n"


def _table(table_id: str, title: str, caption: str, head: str, rows: Sequence[str]) -> str:
    return (
        f"<h2>{_e(title)}</h2>\n<div class=table-wrap><table id={table_id}>\n"
        f"<caption>{caption}</caption>\n{head}<tbody>\n" + "\n".join(rows) + "\n</tbody></table></div>\n"
    )


#: A leading table cell: its content (already HTML) and whether it holds a number.
Cell = tuple[str, bool]


def _leading_cells(cells: Sequence[Cell], span: int) -> str:
    spanned = f' rowspan="{span}"' if span > 1 else ""
    return "".join(f"<td{spanned}{' class=num' if numeric else ''}>{content}</td>" for content, numeric in cells)


def _pair_rows(
    attributes: str,
    leading: Sequence[Cell],
    pairs: Sequence[tuple[str, WindowMetrics | None]],
    columns: Sequence[str],
) -> list[str]:
    """Rows comparing series on the same bars; the ``leading`` cells span all of them."""
    rows = []
    for number, (series, values) in enumerate(pairs):
        shared = _leading_cells(leading, len(pairs)) if number == 0 else ""
        rows.append(
            f'<tr class="{series}" {attributes} data-series="{series}">{shared}'
            f'<td class="series">{_e(SERIES_LABELS.get(series, series))}</td>{_metric_cells(values, columns)}</tr>'
        )
    return rows


def _span(window: Span) -> str:
    # Two lines keep the wide fold table within a laptop screen.
    return f"{_e(_date(window.start))} –<br>{_e(_date(window.end))}"


def _splits_table(result: BacktestResult) -> str:
    columns = _metric_columns([m for row in result.splits.values() for m in (row.strategy, row.benchmark)])
    rows = []
    for name, split in result.splits.items():
        leading = [
            (_e(name), False),
            (_e(_date(split.span.start)), False),
            (_e(_date(split.span.end)), False),
            (_e(split.bars), True),
        ]
        pairs: list[tuple[str, WindowMetrics | None]] = [("strategy", split.strategy), ("benchmark", split.benchmark)]
        rows += _pair_rows(f'data-split="{_e(name)}"', leading, pairs, columns)
    caption = "The chosen parameters on each time-ordered split; only train took part in choosing them."
    head = _head_cells(["Split", "Start", "End", "Bars", "Series"], columns)
    return _table("splits", "Train / validation / test", caption, head, rows)


def _folds_table(result: BacktestResult) -> str:
    walk_forward = result.walk_forward
    folds = walk_forward.folds if walk_forward is not None else ()
    columns = _metric_columns([m for fold in folds for m in (fold.strategy, fold.benchmark)])
    rows = []
    for fold in folds:
        leading = [
            (_e(fold.fold), True),
            (_span(fold.in_sample), False),
            (_span(fold.out_of_sample), False),
            (_params_html(fold.params), False),
            (_e(format_metric(result.objective, fold.in_sample_objective)), True),
        ]
        pairs: list[tuple[str, WindowMetrics | None]] = [("strategy", fold.strategy), ("benchmark", fold.benchmark)]
        rows += _pair_rows(f'data-fold="{_e(fold.fold)}"', leading, pairs, columns)
    mode = walk_forward.mode if walk_forward is not None else ""
    caption = (
        f"{_e(mode)} walk-forward: parameters chosen on each in-sample window by "
        f"<code>{_e(result.objective)}</code>, metrics on the out-of-sample window that follows."
    )
    head = _head_cells(
        ["Fold", "In-sample", "Out-of-sample", "Parameters", f"IS {result.objective}", "Series"], columns
    )
    return _table("folds", "Walk-forward folds", caption, head, rows)


def _stitched_table(result: BacktestResult) -> str:
    walk_forward = result.walk_forward
    pairs: list[tuple[str, WindowMetrics | None]] = [
        ("walk_forward", walk_forward.stitched if walk_forward is not None else None),
        ("benchmark", walk_forward.benchmark if walk_forward is not None else None),
    ]
    columns = _metric_columns([values for _, values in pairs])
    rows = _pair_rows('data-window="walk_forward"', [], pairs, columns)
    caption = (
        "The out-of-sample pieces of every fold stitched into one track record, against buy & hold on the same bars."
    )
    return _table("walk-forward", "Walk-forward, stitched", caption, _head_cells(["Series"], columns), rows)


def _comparison_table(result: BacktestResult) -> str:
    comparison = result.comparison
    rows_data = comparison.rows if comparison is not None else ()
    shown = {name for row in rows_data for name in row.compared}
    columns = _metric_columns([row.metrics for row in rows_data], [name for name in METRIC_NAMES if name in shown])
    rows = [
        f'<tr class="{_e(row.kind)}" data-series="{_e(row.name)}"><td class=series>{_e(row.name)}</td>'
        f"<td>{_e(row.kind)}</td>{_metric_cells(row.metrics, columns)}</tr>"
        for row in rows_data
    ]
    evaluated_on = comparison.evaluated_on if comparison is not None else ""
    window = {"walk-forward": "walk-forward out-of-sample", "test": "test"}.get(evaluated_on, "")
    caption = (
        f"The strategy and its baselines on the same {window} bars, with the same data, costs, splits, "
        "direction and sizing: only the signals differ."
    )
    return _table("comparison", "Side by side", caption, _head_cells(["Series", "Kind"], columns), rows)


def _regimes_table(result: BacktestResult) -> str:
    regimes = result.regimes
    table = regimes.rows
    columns = _metric_columns([m for row in table.values() for m in (row.strategy, row.benchmark)])
    rows = []
    for label in [*(r for r in REGIMES if r in table), *(r for r in table if r not in REGIMES)]:
        row = table[label]
        swatch = f'<span class="swatch band c-{_e(label)}"></span> ' if label in REGIME_COLOURS else ""
        leading = [(swatch + _e(REGIME_LABELS.get(label, label)), False), (_e(row.bars), True)]
        pairs: list[tuple[str, WindowMetrics | None]] = [("strategy", row.strategy), ("benchmark", row.benchmark)]
        rows += _pair_rows(f'data-regime="{_e(label)}"', leading, pairs, columns)
    evaluated_on = regimes.evaluated_on
    evaluated = {"walk_forward": "walk-forward out-of-sample", "test": "test"}.get(evaluated_on, evaluated_on)
    threshold = _finite(regimes.threshold)
    threshold_text = f"{threshold * 100:g}%" if threshold is not None else MISSING
    caption = (
        f"On the {_e(evaluated)} bars. A bar's regime is the equal-weight market's trailing "
        f"{_e(regimes.window)}-bar return known before the bar: above +{_e(threshold_text)} bull, "
        f"below −{_e(threshold_text)} bear, otherwise sideways; warm-up bars come before the first label is known."
    )
    return _table("regimes", "Regimes", caption, _head_cells(["Regime", "Bars", "Series"], columns), rows)


def _costs_table(result: BacktestResult) -> str:
    windows = [("test", "Test")]
    if any(row.walk_forward is not None for row in result.cost_sensitivity):
        windows.append(("walk_forward", "Walk-forward"))
    columns = _metric_columns([m for row in result.cost_sensitivity for m in (row.test, row.walk_forward)])
    rows = []
    for row in result.cost_sensitivity:
        multiplier = _finite(row.multiplier)
        leading = [
            (_e(f"{multiplier:g}×" if multiplier is not None else MISSING), True),
            (_costs_html(row.costs), False),
        ]
        for number, (key, label) in enumerate(windows):
            shared = _leading_cells(leading, len(windows)) if number == 0 else ""
            values = row.test if key == "test" else row.walk_forward
            rows.append(
                f'<tr data-multiplier="{_e(row.multiplier)}" data-window="{key}">{shared}'
                f'<td class="series">{label}</td>{_metric_cells(values, columns)}</tr>'
            )
    caption = "The chosen strategy with every cost (fees, slippage, spread) scaled by the multiplier."
    head = _head_cells(["Multiplier", "Costs per fill", "Window"], columns)
    return _table("costs", "Cost sensitivity", caption, head, rows)


def _top_table(result: BacktestResult) -> str:
    rows = []
    for rank, row in enumerate(result.top_combinations, start=1):
        chosen = row.params == result.chosen
        rows.append(
            f'<tr{" class=chosen" if chosen else ""} data-rank="{rank}" data-chosen="{str(chosen).lower()}">'
            f'<td class="num">{rank}</td><td>{_params_html(row.params)}</td>'
            f'<td class="num">{_e(format_metric(result.objective, row.train_objective))}</td>'
            f"<td>{'chosen' if chosen else ''}</td></tr>"
        )
    caption = f"The best of {result.combinations:,} combinations by <code>{_e(result.objective)}</code> on train."
    head = f"<thead><tr><th>Rank</th><th>Parameters</th><th>Train {_e(result.objective)}</th><th></th></tr></thead>\n"
    return _table("top", "Top combinations", caption, head, rows)


def _cutoff_table(result: BacktestResult) -> str:
    cutoff = result.knowledge_cutoff
    windows = cutoff.windows if cutoff is not None else {}
    columns = _metric_columns(
        [m for row in windows.values() for m in (row.all_bars, row.after_cutoff, row.benchmark_after_cutoff)]
    )
    rows = []
    for name, row in windows.items():
        leading = [
            (_e(WINDOW_LABELS.get(name, name)), False),
            (_e(row.bars), True),
            (_e(row.flagged_bars), True),
        ]
        entries: list[tuple[str, str, str, WindowMetrics | None]] = [
            ("strategy", "all", "Strategy, all bars", row.all_bars),
            ("strategy", "after_cutoff", "Strategy, after the cutoff", row.after_cutoff),
            ("benchmark", "after_cutoff", "Buy & hold, after the cutoff", row.benchmark_after_cutoff),
        ]
        for number, (series, bars, label, values) in enumerate(entries):
            shared = _leading_cells(leading, len(entries)) if number == 0 else ""
            rows.append(
                f'<tr class="{series}" data-window="{_e(name)}" data-bars="{bars}" data-series="{series}">{shared}'
                f'<td class="series">{_e(label)}</td>{_metric_cells(values, columns)}</tr>'
            )
    date = _date(cutoff.cutoff) if cutoff is not None else MISSING
    caption = (
        f"A signal model was trained on data up to {_e(date)}; on the bars up to that date it "
        "may have seen what came next. The chosen strategy with every evaluated bar, and without the flagged ones."
    )
    head = _head_cells(["Window", "Bars", "Flagged", "Series"], columns)
    return _table("cutoff", "Knowledge cutoff", caption, head, rows)


def _tables(result: BacktestResult) -> str:
    parts = []
    if any(not metrics.annualised_meaningful for metrics in result.window_metrics()):
        parts.append(
            f"<p class=muted>{NOT_MEANINGFUL}: an annualised figure (CAGR, volatility, Sharpe, Sortino, turnover) "
            f"over a window shorter than {_e(f'{result.min_annualised_years:g}')} years, where extrapolating to "
            "a year means nothing; the figure is in the cell's tooltip and in the JSON.</p>\n"
        )
    parts += [_comparison_table(result)] if result.comparison else []
    parts.append(_splits_table(result))
    if result.knowledge_cutoff:
        parts.append(_cutoff_table(result))
    if result.walk_forward:
        parts += [_folds_table(result), _stitched_table(result)]
    parts += [_regimes_table(result), _costs_table(result), _top_table(result)]
    if result.significance is not None:
        parts.append(_significance_table(result.significance))
    if result.per_symbol:
        parts.append(_per_symbol_table(result))
    parts.append(_trades_table(result))
    return "<section id=tables>\n" + "".join(parts) + "</section>\n"


# --- significance, per symbol, trades ---------------------------------------------------------


def _interval_text(significance: SignificanceResult, name: str, metric: str) -> str:
    interval = significance.bootstrap.get(name)
    if interval is None:
        return MISSING
    return f"{_e(format_metric(metric, interval.low))} to {_e(format_metric(metric, interval.high))}"


def _logit_histogram(overfitting: Overfitting) -> str:
    """The out-of-sample rank logits of each split's in-sample winner: mass left of 0 is overfitting."""
    counts, edges = overfitting.logit_counts, overfitting.logit_edges
    if not counts:
        return ""
    width, height, pad = 480.0, 120.0, 24.0
    lo, hi = min(edges[0], -1.0), max(edges[-1], 1.0)
    tallest = max(counts) or 1

    def x(value: float) -> float:
        return pad + (value - lo) / (hi - lo) * (width - 2 * pad)

    bars = []
    for count, (left, right) in zip(counts, pairwise(edges), strict=True):
        top = height - pad - count / tallest * (height - 2 * pad)
        side = "neg" if right <= 0 else "pos"
        bars.append(
            f'<rect class="logit {side}" x="{x(left):.1f}" y="{top:.1f}" width="{max(x(right) - x(left) - 1, 1):.1f}" '
            f'height="{height - pad - top:.1f}"><title>{count} splits, logit {left:.2f} to {right:.2f}</title></rect>'
        )
    zero = x(0.0)
    return (
        f'<figure id=pbo-logits><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'role=img aria-label="Histogram of rank logits">{"".join(bars)}'
        f'<line x1="{zero:.1f}" x2="{zero:.1f}" y1="{pad / 2:.1f}" y2="{height - pad:.1f}" class=zero />'
        f'<text x="{zero:.1f}" y="{height - 6:.1f}" text-anchor=middle>0</text></svg>'
        "<figcaption>Out-of-sample rank logit of each split's in-sample winner; the share at or left of 0 "
        "is the PBO.</figcaption></figure>\n"
    )


def _significance_table(significance: SignificanceResult) -> str:
    deflation, overfitting, check = significance.deflation, significance.overfitting, significance.reality_check
    level = f"{significance.confidence:.0%}"
    years = significance.min_track_record_years
    settings = significance.bootstrap_settings
    rows: list[tuple[str, str, str, str]] = [
        (
            "sharpe",
            "Sharpe ratio",
            _e(format_metric("sharpe", significance.sharpe)),
            f"{level} interval {_interval_text(significance, 'sharpe', 'sharpe')}",
        ),
        (
            "cagr",
            "CAGR",
            _e(format_metric("cagr", _estimate(significance, "cagr"))),
            f"{level} interval {_interval_text(significance, 'cagr', 'cagr')}",
        ),
        (
            "max_drawdown",
            "Max drawdown",
            _e(format_metric("max_drawdown", _estimate(significance, "max_drawdown"))),
            f"{level} interval {_interval_text(significance, 'max_drawdown', 'max_drawdown')}",
        ),
        (
            "psr",
            "Probabilistic Sharpe",
            _e(format_metric("psr", significance.psr)),
            f"probability the true Sharpe exceeds {_e(f'{significance.benchmark_sharpe:g}')}, given skewness "
            f"{_e(format_metric('skew', significance.skewness))} and kurtosis "
            f"{_e(format_metric('kurtosis', significance.kurtosis))} (raw; normal = 3)",
        ),
        (
            "min_track_record",
            "Minimum track record",
            MISSING if years is None else f"{years:.1f} years",
            f"needed for {level} confidence that the Sharpe exceeds the benchmark; "
            f"{significance.observations:,} bars evaluated",
        ),
        (
            "dsr",
            "Deflated Sharpe",
            _e(format_metric("dsr", deflation.value)),
            f"{deflation.trials:,} trials in the ledger ({deflation.this_run:,} this run, {deflation.runs} run(s)); "
            f"luck alone would give the best of them a Sharpe near "
            f"{_e(format_metric('sharpe', deflation.expected_max_sharpe))}",
        ),
        (
            "pbo",
            "Probability of backtest overfitting",
            _e(format_metric("pbo", overfitting.value)),
            _e(overfitting.reason)
            if overfitting.reason
            else f"combinatorially symmetric cross-validation: {overfitting.partitions} partitions, "
            f"{overfitting.splits:,} splits",
        ),
    ]
    if check is not None:
        rows.append(
            (
                "spa",
                "SPA p-value",
                _e(format_metric("spa", check.spa_pvalue)),
                f"does any of {check.models:,} combinations beat buy-and-hold? Hansen's SPA; White's Reality "
                f"Check p = {_e(format_metric('rc', check.reality_check_pvalue))}",
            )
        )
    body = [
        f'<tr data-statistic="{key}"><td>{_e(label)}</td><td class=num>{value}</td><td>{reading}</td></tr>'
        for key, label, value, reading in rows
    ]
    caption = (
        f"On the {_e(WINDOW_LABELS[significance.evaluated_on])} returns ({significance.observations:,} bars). "
        f"Stationary bootstrap: {_e(settings.get('reps'))} resamples, mean block "
        f"{_e(format_metric('block', settings.get('block_size')))} bars, seed {_e(settings.get('seed'))}. "
        f"<strong>{_e(significance.verdict)}</strong>"
    )
    head = "<thead><tr><th>Statistic</th><th>Value</th><th>Reading</th></tr></thead>\n"
    return _table("significance", "Significance", caption, head, body) + _logit_histogram(overfitting)


def _estimate(significance: SignificanceResult, name: str) -> float | None:
    interval = significance.bootstrap.get(name)
    return interval.estimate if interval is not None else None


def _per_symbol_table(result: BacktestResult) -> str:
    columns = _metric_columns(list(result.per_symbol.values()))
    rows = [
        f'<tr data-symbol="{_e(symbol)}"><td>{_e(symbol)}</td>{_metric_cells(metrics, columns)}</tr>'
        for symbol, metrics in result.per_symbol.items()
    ]
    caption = f"Each symbol's sleeve on the {_e(WINDOW_LABELS[result.evaluated_on])} bars."
    return _table("per-symbol", "Per symbol", caption, _head_cells(["Symbol"], columns), rows)


TRADE_COLUMNS = ("symbol", "side", "entry", "exit", "size", "entry_price", "exit_price", "pnl", "return", "costs")


def _trade_cell(name: str, value: Any) -> str:
    if name in ("entry", "exit"):
        return f"<td>{_e(_date(value)) if value else 'open'}</td>"
    if name == "return":
        return f"<td class=num>{_e(format_metric('total_return', value))}</td>"
    if isinstance(value, float):
        return f'<td class="num{" neg" if name == "pnl" and value < 0 else ""}">{value:,.4g}</td>'
    return f"<td>{_e(value)}</td>"


def _trades_table(result: BacktestResult) -> str:
    rows = []
    for trade in result.trades:
        values = trade.to_dict()
        rows.append(
            f'<tr data-status="{trade.status}">'
            + "".join(_trade_cell(name, values[name]) for name in TRADE_COLUMNS)
            + "</tr>"
        )
    caption = (
        f"{len(result.trades):,} round trips entering or exiting on the {_e(WINDOW_LABELS[result.evaluated_on])} "
        "bars; PnL and return after costs (fees, slippage, spread), which the costs column adds up."
    )
    head = (
        "<thead><tr>" + "".join(f"<th>{_e(name.replace('_', ' '))}</th>" for name in TRADE_COLUMNS) + "</tr></thead>\n"
    )
    return (
        "<details id=trade-list>\n<summary>Trades</summary>\n"
        + _table("trades", "Trades", caption, head, rows)
        + "</details>\n"
    )
