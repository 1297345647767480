"""The ``prompt-response`` and ``qa-spans`` datasets: your own SFT or extractive-QA rows from a file.

Both read one ``.csv`` / ``.csv.gz`` or ``.jsonl`` / ``.ndjson`` / ``.jsonl.gz`` file (the
suffix decides), with the same reader, encodings and row-numbered errors as the ``csv`` and
``jsonl`` datasets of ``fintrade_datasets`` (:mod:`fintrade.rowfiles`).

``prompt-response`` (task ``sft``)
    columns ``prompt`` and ``response`` (options ``prompt_column``, ``response_column``).
``qa-spans`` (task ``qa``)
    columns ``question``, ``context``, ``answer_text`` and ``answer_start`` (options
    ``question_column``, ``context_column``, ``answer_text_column``, ``answer_start_column``):
    SQuAD's layout with one answer per row; ``answer_start`` is the answer's character offset
    in the context, and ``context[answer_start:answer_start + len(answer_text)]`` must be the
    answer exactly.

Common options: ``path`` (required), ``date_column`` (served as ``published_at``, for time
splits), ``encoding`` (default UTF-8). Every cell must be filled: an empty prompt, response,
question, context or answer is an error naming the file and the row (CSV: data rows, the first
after the header is row 1) or line (JSON lines).
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fintrade.errors import ConfigError, DataError, did_you_mean
from fintrade.options import check_option_names, path_option, text_option

SUFFIXES = {"csv": (".csv", ".csv.gz"), "jsonl": (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")}
PROMPT_COLUMNS = ("prompt", "response")
QA_COLUMNS = ("question", "context", "answer_text", "answer_start")


def load_prompt_response(options: Mapping[str, Any]) -> Any:
    """The ``prompt-response`` dataset's ``load``: columns ``prompt``, ``response``, ``id`` (and ``published_at``)."""
    return _load(options, "prompt-response", PROMPT_COLUMNS)


def load_qa_spans(options: Mapping[str, Any]) -> Any:
    """The ``qa-spans`` dataset's ``load``: question, context, answer_text, answer_start (int), id."""
    return _load(options, "qa-spans", QA_COLUMNS)


def _load(options: Mapping[str, Any], dataset: str, columns: tuple[str, ...]) -> Any:
    import pandas as pd

    from fintrade.rowfiles import is_missing, parse_csv, parse_dates, parse_jsonl, read_text, text_ids

    where = f"dataset {dataset!r}"
    column_options = {f"{name}_column": name for name in columns}
    check_option_names(options, ("path", "date_column", "encoding", *column_options), where)
    path = path_option(options, where, f"a {' or '.join(SUFFIXES['csv'] + SUFFIXES['jsonl'])} file")
    fmt = next((fmt for fmt, ends in SUFFIXES.items() if path.name.lower().endswith(ends)), None)
    if fmt is None or not path.is_file():
        raise ConfigError(f"{where}: {path} is not a .csv or .jsonl file (option 'path')")
    names = {name: text_option(options, option, name, where) or name for option, name in column_options.items()}
    date_column = text_option(options, "date_column", None, where)
    encoding = _encoding(options, where)
    file_where = f"{where}, file {path}"
    records = (parse_csv if fmt == "csv" else parse_jsonl)(read_text(Path(path), encoding, file_where), file_where)
    word = records.row_word
    if not records.numbers:
        raise DataError(f"{file_where}: the dataset is empty (no {word}s of data)")
    wanted = [*names.values(), *([date_column] if date_column else [])]
    missing = [name for name in wanted if name not in records.columns]
    if missing:
        found = ", ".join(map(repr, records.columns)) or "none"
        named = ", ".join(f"{name!r}{did_you_mean(name, records.columns)}" for name in missing)
        raise DataError(f"{file_where}: missing column(s) {named}; the file has columns {found}")
    served: dict[str, Any] = {}
    for name, column in names.items():
        values = records.columns[column]
        for value, number in zip(values, records.numbers, strict=True):
            if is_missing(value) or (isinstance(value, str) and not value.strip()):
                raise DataError(f"{file_where}: {word} {number} has no {name} (column {column!r})")
        served[name] = values
    if "answer_start" in served:
        served["answer_start"] = _answer_starts(served, records.numbers, names, file_where, word)
    frame = pd.DataFrame({name: pd.Series(values, dtype=object) for name, values in served.items()})
    for name in columns:
        if name != "answer_start":
            frame[name] = frame[name].astype(str)
    if date_column:
        dates = parse_dates(
            records.columns[date_column], records.numbers, where=file_where, column=date_column, row_word=word
        )
        frame["published_at"] = pd.Series(dates.tz_convert("UTC").as_unit("ns"), copy=False)
    frame["id"] = text_ids([" ".join(str(frame[name].iloc[i]) for name in columns) for i in range(len(frame))])
    return frame


def _answer_starts(
    served: Mapping[str, list[Any]], numbers: list[int], names: Mapping[str, str], where: str, word: str
) -> list[int]:
    """Character offsets as ints, each pointing at its answer in its context."""
    starts = []
    for start, context, answer, number in zip(
        served["answer_start"], served["context"], served["answer_text"], numbers, strict=True
    ):
        try:
            value = int(str(start).strip())
        except ValueError:
            raise DataError(
                f"{where}: {word} {number}: answer_start {start!r} (column {names['answer_start']!r}) "
                "is not a character offset"
            ) from None
        found = str(context)[value : value + len(str(answer))] if value >= 0 else ""
        if found != str(answer):
            raise DataError(
                f"{where}: {word} {number}: the context at answer_start {value} reads {found!r}, "
                f"not the answer {str(answer)!r}"
            )
        starts.append(value)
    return starts


def _encoding(options: Mapping[str, Any], where: str) -> str:
    encoding = text_option(options, "encoding", "utf-8", where) or "utf-8"
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise ConfigError(f"{where}: option 'encoding': unknown encoding {encoding!r}") from None
    return "utf-8-sig" if name == "utf-8" else name  # skips a spreadsheet's byte-order mark
