"""The built-in ``fintrade_datasets`` plugin: phrasebank, twitter-fin, csv, jsonl, and the split helpers.

Offline and fast. The PhraseBank is read from ``../shared/data`` (it may not be copied into
the repository: CC BY-NC-SA); tests that need the real files skip, saying why, without it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
import warnings
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fintrade_datasets import phrasebank
from fintrade_datasets.splits import dataset_hash, latest_date, split_dataset

from fintrade.cache import DataWarning
from fintrade.errors import ConfigError, DataError
from fintrade.plugin_manager import create_plugin_manager
from fintrade.registry import Registry

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
PHRASEBANK_DIR = SHARED_DATA / "financial_phrasebank_v1.0"
LABELS = ("negative", "neutral", "positive")
WHY = (
    "it is not bundled with fintrade because its licence (CC BY-NC-SA 3.0) forbids commercial use; "
    "get FinancialPhraseBank-v1.0 from its authors (Malo et al. 2014)"
)

needs_phrasebank = pytest.mark.skipif(
    not (PHRASEBANK_DIR / "Sentences_AllAgree.txt").is_file(),
    reason=f"Financial PhraseBank not found at {PHRASEBANK_DIR} (non-commercial licence: never bundled)",
)


@pytest.fixture(scope="module")
def registry() -> Registry:
    """Built-in plugins only: what ships with fintrade."""
    return Registry(create_plugin_manager(load_entry_points=False))


@pytest.fixture
def load(registry: Registry) -> Callable[..., pd.DataFrame]:
    def load(name: str, **options: Any) -> pd.DataFrame:
        return registry.datasets.get(name).load(options)

    return load


@pytest.fixture(autouse=True)
def _no_phrasebank_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's own $FINTRADE_PHRASEBANK_DIR must not change what these tests read.
    monkeypatch.delenv(phrasebank.ENV_VAR, raising=False)


def counts(frame: pd.DataFrame) -> list[int]:
    """Rows per label, in the order negative, neutral, positive."""
    return [int((frame["label"] == label).sum()) for label in LABELS]


def message(raises: pytest.ExceptionInfo[BaseException]) -> str:
    return str(raises.value)


def data_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, DataWarning)]


def write_phrasebank(folder: Path, lines: list[str], name: str = "Sentences_AllAgree.txt") -> Path:
    """A file in the release's own format: latin-1, CRLF."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes("".join(line + "\r\n" for line in lines).encode("latin-1"))
    return path


# --- registration ---------------------------------------------------------------------------


def test_registers_four_sentiment_datasets(registry: Registry) -> None:
    assert {"phrasebank", "twitter-fin", "csv", "jsonl"} <= set(registry.datasets.names())
    for name in ("phrasebank", "twitter-fin", "csv", "jsonl"):
        dataset = registry.datasets.get(name)
        assert dataset.task == "sentiment"
        assert dataset.labels == LABELS
        assert registry.datasets.provider(name) == "fintrade_datasets"
    assert registry.datasets.get("phrasebank").licence.startswith("CC BY-NC-SA 3.0")
    assert registry.datasets.get("twitter-fin").licence == "MIT"
    # Options are documented where `fintrade plugins` shows them.
    assert all(o in registry.datasets.get("phrasebank").description for o in ("agreement", "dedupe", "path"))
    for option in ("path", "text_column", "label_column", "date_column", "label_map"):
        assert option in registry.datasets.get("csv").description
        assert option in registry.datasets.get("jsonl").description


def test_registration_imports_no_pandas() -> None:
    code = (
        "import sys\nimport fintrade_datasets\n"
        "records = list(fintrade_datasets.fintrade_datasets())\n"
        "print(len(records), 'pandas' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["4", "False"], result.stdout + result.stderr


def test_split_helpers_are_exported_lazily() -> None:
    import fintrade_datasets

    assert fintrade_datasets.split_dataset is split_dataset
    assert fintrade_datasets.dataset_hash is dataset_hash
    with pytest.raises(AttributeError):
        _ = fintrade_datasets.no_such_helper


def test_unknown_option_is_refused(load: Callable[..., pd.DataFrame]) -> None:
    with pytest.raises(ConfigError) as raised:
        load("twitter-fin", split="test")
    assert message(raised) == "dataset 'twitter-fin': unknown option 'split'; it takes no options"
    with pytest.raises(ConfigError) as raised:
        load("phrasebank", agrement="50")
    assert message(raised) == (
        "dataset 'phrasebank': unknown option 'agrement' (did you mean 'agreement'?); "
        "options are agreement, dedupe, path"
    )


# --- phrasebank: the real release -------------------------------------------------------------


@needs_phrasebank
@pytest.mark.parametrize(
    ("agreement", "rows", "per_label"),
    [
        ("all", 2264, [303, 1391, 570]),
        ("75", 3453, [420, 2146, 887]),
        ("66", 4217, [514, 2535, 1168]),
        ("50", 4846, [604, 2879, 1363]),
    ],
)
def test_phrasebank_counts_match_the_data_readme(
    load: Callable[..., pd.DataFrame], agreement: str, rows: int, per_label: list[int]
) -> None:
    frame = load("phrasebank", agreement=agreement, dedupe=False, path=str(PHRASEBANK_DIR))
    assert len(frame) == rows
    assert counts(frame) == per_label
    assert list(frame.columns) == ["text", "label", "id"]
    assert frame["id"].is_unique
    assert not frame["text"].str.contains("\r").any()


@needs_phrasebank
def test_phrasebank_text_is_decoded_as_latin1_and_kept_as_released(load: Callable[..., pd.DataFrame]) -> None:
    frame = load("phrasebank", dedupe=False, path=PHRASEBANK_DIR)
    assert frame["text"].iloc[0] == (
        "According to Gran , the company has no plans to move all production to Russia , "
        "although that is where the company is growing ."
    )
    assert frame["label"].iloc[0] == "neutral"
    assert frame["text"].iloc[-1].endswith("dropped by 17 % .")
    # The release's odd sequences are data, not decoding errors: latin-1 never fails, and the
    # README names this one.
    assert frame["text"].str.contains("Sepp+ñl+ñ", regex=False).any()
    assert not frame["text"].str.contains("\ufffd").any()


@needs_phrasebank
@pytest.mark.parametrize(
    ("agreement", "rows", "per_label", "warned"),
    [
        ("all", 2259, [303, 1386, 570], []),
        ("50", 4836, [604, 2871, 1361], ["dropped 4 rows of 2 sentences labelled differently in different rows"]),
    ],
)
def test_phrasebank_dedupe_is_the_default(
    load: Callable[..., pd.DataFrame], agreement: str, rows: int, per_label: list[int], warned: list[str]
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = load("phrasebank", agreement=agreement, path=PHRASEBANK_DIR)
    assert len(frame) == rows
    assert counts(frame) == per_label
    assert not frame["text"].duplicated().any()
    expected = [
        f"dataset 'phrasebank' (Sentences_{agreement.capitalize()}Agree.txt): {text} (option dedupe=False keeps them)"
        for text in warned
    ]
    assert data_warnings(caught) == expected


@needs_phrasebank
def test_phrasebank_ids_are_the_same_across_agreement_levels(load: Callable[..., pd.DataFrame]) -> None:
    every = load("phrasebank", agreement="all", path=PHRASEBANK_DIR)
    half = load("phrasebank", agreement="50", dedupe=False, path=PHRASEBANK_DIR)
    # The data README: every AllAgree sentence is also in 50Agree.
    assert set(every["id"]) <= set(half["id"])
    by_id = half.set_index("id")["text"]
    assert (by_id.loc[every["id"]].to_numpy() == every["text"].to_numpy()).all()


@needs_phrasebank
def test_phrasebank_is_found_above_the_current_directory(
    load: Callable[..., pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    # ROOT/fintrade -> ROOT/../shared/data/... is found by walking up from the current directory.
    monkeypatch.chdir(ROOT / "fintrade")
    monkeypatch.setattr(phrasebank, "_checkout_root", lambda: None)
    assert len(load("phrasebank", dedupe=False)) == 2264


@needs_phrasebank
def test_phrasebank_is_found_from_the_checkout(
    load: Callable[..., pd.DataFrame], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    assert phrasebank._checkout_root() == ROOT
    assert len(load("phrasebank", agreement=75, dedupe=False)) == 3453


def test_phrasebank_search_walks_up_from_the_current_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT / "fintrade")
    monkeypatch.setattr(phrasebank, "_checkout_root", lambda: None)
    candidates = phrasebank._shared_candidates()
    assert candidates[:3] == [
        ROOT / "shared" / "data" / "financial_phrasebank_v1.0",
        ROOT.parent / "shared" / "data" / "financial_phrasebank_v1.0",
        ROOT.parent.parent / "shared" / "data" / "financial_phrasebank_v1.0",
    ]
    assert candidates[-1] == Path("/shared/data/financial_phrasebank_v1.0")


def test_phrasebank_is_not_in_the_repository() -> None:
    # CC BY-NC-SA: fintrade (MIT, commercial use allowed) must never carry a copy.
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    files = [ROOT / name for name in tracked.splitlines()]
    files += [
        p
        for folder in ("plugins", "tests", "fintrade", "docs", "bench", "strategies")
        for p in (ROOT / folder).rglob("*")
    ]
    offenders = sorted({str(p.relative_to(ROOT)) for p in files if "agree" in p.name.lower() and p.suffix != ".py"})
    assert offenders == []


# --- phrasebank: format, search and errors, on small files written here ------------------------


def test_phrasebank_splits_on_the_last_at_sign(load: Callable[..., pd.DataFrame], tmp_path: Path) -> None:
    write_phrasebank(
        tmp_path,
        [
            "Contact ir@example.com for the full report .@neutral",
            "Sepp\xe4l\xe4 @ Helsinki : net sales rose 5 % .@positive",
            "Operating loss widened to EUR 3 mn .@negative",
        ],
    )
    frame = load("phrasebank", path=tmp_path)
    assert frame["text"].tolist() == [
        "Contact ir@example.com for the full report .",
        "Sepp\xe4l\xe4 @ Helsinki : net sales rose 5 % .",
        "Operating loss widened to EUR 3 mn .",
    ]
    assert frame["label"].tolist() == ["neutral", "positive", "negative"]
    assert frame["id"].iloc[0] == hashlib.sha1(b"Contact ir@example.com for the full report .").hexdigest()[:16]


def test_phrasebank_dedupe_on_and_off(load: Callable[..., pd.DataFrame], tmp_path: Path) -> None:
    write_phrasebank(
        tmp_path,
        [
            "Sales rose .@positive",
            "The board met .@neutral",
            "Sales rose .@positive",
            "Shares moved .@positive",
            "Shares moved .@negative",
            "Shares moved .@positive",
        ],
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kept = load("phrasebank", path=tmp_path)
    assert kept["text"].tolist() == ["Sales rose .", "The board met ."]
    assert data_warnings(caught) == [
        "dataset 'phrasebank' (Sentences_AllAgree.txt): dropped 3 rows of 1 sentence labelled differently "
        "in different rows (option dedupe=False keeps them)"
    ]
    everything = load("phrasebank", path=tmp_path, dedupe=False)
    assert len(everything) == 6
    # Repeats keep unique ids: the second occurrence is numbered.
    assert everything["id"].iloc[2] == everything["id"].iloc[0] + "-2"
    assert everything["id"].is_unique


def test_phrasebank_found_through_the_environment(
    load: Callable[..., pd.DataFrame], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write_phrasebank(tmp_path / "pb", ["Profit fell .@negative"], name="Sentences_66Agree.txt")
    monkeypatch.setenv(phrasebank.ENV_VAR, str(tmp_path / "pb"))
    assert load("phrasebank", agreement="66")["label"].tolist() == ["negative"]
    with pytest.raises(DataError) as raised:
        load("phrasebank")
    assert message(raised) == (
        f"dataset 'phrasebank': no Sentences_AllAgree.txt in {tmp_path / 'pb'} ($FINTRADE_PHRASEBANK_DIR); {WHY}"
    )


def test_phrasebank_missing_says_where_to_put_it_and_why(
    load: Callable[..., pd.DataFrame], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Nothing in the usual places (a machine may have a shared folder above tmp_path itself).
    monkeypatch.setattr(phrasebank, "_shared_candidates", lambda: [tmp_path / "shared" / "data" / "nowhere"])
    with pytest.raises(DataError) as raised:
        load("phrasebank", agreement="50")
    assert message(raised) == (
        "dataset 'phrasebank': Financial PhraseBank v1.0 not found; pass option path=<folder holding "
        "Sentences_50Agree.txt>, set $FINTRADE_PHRASEBANK_DIR, or put the release in "
        f"../shared/data/financial_phrasebank_v1.0; {WHY}"
    )
    with pytest.raises(DataError) as raised:
        load("phrasebank", path=tmp_path)
    assert message(raised) == f"dataset 'phrasebank': no Sentences_AllAgree.txt in {tmp_path} (option 'path'); {WHY}"


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["Fine .@neutral", "no label here"], "line 2 has no '@label' ending: 'no label here'"),
        (["Fine .@neutral", "Up .@bullish"], "line 2: label 'bullish' is not one of negative, neutral, positive"),
        (["@positive"], "line 1 has a label but no sentence"),
        ([""], "the file has no sentences"),
    ],
)
def test_phrasebank_malformed_lines(
    load: Callable[..., pd.DataFrame], tmp_path: Path, lines: list[str], expected: str
) -> None:
    path = write_phrasebank(tmp_path, lines)
    with pytest.raises(DataError) as raised:
        load("phrasebank", path=tmp_path)
    assert message(raised) == f"dataset 'phrasebank', file {path}: {expected}"


def test_phrasebank_refuses_a_utf8_copy(load: Callable[..., pd.DataFrame], tmp_path: Path) -> None:
    path = tmp_path / "Sentences_AllAgree.txt"
    path.write_bytes("\ufeffSepp\xe4l\xe4 grew .@positive\r\n".encode())
    with pytest.raises(DataError) as raised:
        load("phrasebank", path=tmp_path)
    assert message(raised) == (
        f"dataset 'phrasebank', file {path}: starts with a UTF-8 byte-order mark; the release is latin-1, "
        "use the original file"
    )


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"agreement": "90"}, "option 'agreement' must be one of 'all', '75', '66', '50', got '90'"),
        ({"agreement": True}, "option 'agreement' must be one of 'all', '75', '66', '50', got True"),
        ({"dedupe": "yes"}, "option 'dedupe' must be True or False, got 'yes'"),
        ({"path": 3}, "option 'path' must be a folder name, got 3"),
    ],
)
def test_phrasebank_bad_options(load: Callable[..., pd.DataFrame], options: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load("phrasebank", **options)
    assert message(raised) == f"dataset 'phrasebank': {expected}"


# --- twitter-fin --------------------------------------------------------------------------


def test_twitter_fin_rows_and_labels(load: Callable[..., pd.DataFrame]) -> None:
    frame = load("twitter-fin")
    assert len(frame) == 9543
    # 0 = Bearish (1,442), 1 = Bullish (1,923), 2 = Neutral (6,178), per the data README.
    assert counts(frame) == [1442, 6178, 1923]
    assert list(frame.columns) == ["text", "label", "id"]
    assert frame["id"].is_unique
    first = frame.iloc[0]
    assert first["text"] == "$BYND - JPMorgan reels in expectations on Beyond Meat https://t.co/bd0xbFGjkT"
    assert first["label"] == "negative"  # label 0 in the file


def test_twitter_fin_maps_each_number_to_its_card_meaning(load: Callable[..., pd.DataFrame]) -> None:
    raw = pd.read_csv(
        resources.files("fintrade_datasets").joinpath("data", "twitter_financial_news", "sent_train.csv").open("rb"),
        dtype=str,
        keep_default_na=False,
    )
    frame = load("twitter-fin")
    pairs = set(zip(raw["label"], frame["label"], strict=True))
    assert pairs == {("0", "negative"), ("1", "positive"), ("2", "neutral")}
    assert (raw["text"] == frame["text"]).all()


def test_twitter_fin_bundle_is_the_unchanged_file_with_its_licence() -> None:
    folder = resources.files("fintrade_datasets").joinpath("data", "twitter_financial_news")
    data = folder.joinpath("sent_train.csv").read_bytes()
    assert hashlib.sha256(data).hexdigest() == "184e6322b7f0e84c3103a83d198f1be8203de8b63a857f67a2964321b71c4e8d"
    licence = folder.joinpath("LICENSE").read_text()
    readme = folder.joinpath("README.md").read_text()
    assert licence.startswith("MIT License") and "zeroshot/twitter-financial-news-sentiment" in licence
    for fact in ("zeroshot/twitter-financial-news-sentiment", "MIT", "train split", "umaima-aman"):
        assert fact in readme


def test_twitter_fin_returns_a_fresh_copy(load: Callable[..., pd.DataFrame]) -> None:
    frame = load("twitter-fin")
    frame.loc[0, "label"] = "positive"
    assert load("twitter-fin").loc[0, "label"] == "negative"


# --- csv and jsonl: round trips ------------------------------------------------------------------

TEXTS = [
    "Acme beats, raises guidance",
    'Says "no comment" on the merger\nsecond line',
    "NA",  # a word, not a missing value
    "Umsatz stieg um 5 % — Müller",
    "Shares flat",
]


def test_csv_round_trip_with_label_map_dates_and_ids(load: Callable[..., pd.DataFrame], tmp_path: Path) -> None:
    source = pd.DataFrame(
        {
            "headline": TEXTS,
            "tone": ["Bullish", "Bearish", "Neutral", "Bullish", "Neutral"],
            "when": [
                "2021-03-01T14:30:00Z",
                "2021-03-01 10:00:00-05:00",
                "2021-03-02",
                "2021-03-02T09:00:00+01:00",
                "2021-03-03T00:00:00",
            ],
            "uid": ["a1", "a2", "007", "a4", "a5"],
            "extra": 1,
        }
    )
    path = tmp_path / "labels.csv"
    source.to_csv(path, index=False)
    frame = load(
        "csv",
        path=str(path),
        text_column="headline",
        label_column="tone",
        date_column="when",
        id_column="uid",
        label_map={"Bullish": "positive", "Bearish": "negative", "Neutral": "neutral"},
    )
    assert list(frame.columns) == ["text", "label", "published_at", "id"]
    assert frame["text"].tolist() == TEXTS
    assert frame["label"].tolist() == ["positive", "negative", "neutral", "positive", "neutral"]
    assert frame["id"].tolist() == ["a1", "a2", "007", "a4", "a5"]
    assert str(frame["published_at"].dtype) == "datetime64[ns, UTC]"
    assert frame["published_at"].tolist() == [
        pd.Timestamp("2021-03-01T14:30Z"),
        pd.Timestamp("2021-03-01T15:00Z"),
        pd.Timestamp("2021-03-02T00:00Z"),
        pd.Timestamp("2021-03-02T08:00Z"),
        pd.Timestamp("2021-03-03T00:00Z"),
    ]
    assert latest_date(frame) == pd.Timestamp("2021-03-03T00:00Z")


def test_csv_labels_named_directly_with_gzip_and_bom(load: Callable[..., pd.DataFrame], tmp_path: Path) -> None:
    path = tmp_path / "plain.csv.gz"
    text = "text,label\r\nUp a lot, Positive \r\nDown,NEGATIVE\r\nSame,neutral\r\n"
    path.write_bytes(gzip.compress(("\ufeff" + text).encode("utf-8")))
    frame = load("csv", path=path)
    assert frame["text"].tolist() == ["Up a lot", "Down", "Same"]
    assert frame["label"].tolist() == ["positive", "negative", "neutral"]
    assert "published_at" not in frame.columns
    assert frame["id"].tolist() == [hashlib.sha1(t.encode()).hexdigest()[:16] for t in frame["text"]]


def test_jsonl_round_trip_with_numeric_labels_and_epoch_dates(
    load: Callable[..., pd.DataFrame], tmp_path: Path
) -> None:
    times = pd.to_datetime(
        ["2020-01-01T00:00Z", "2020-06-30T12:34:56Z", "2020-12-31T23:59Z", "2021-01-01T00:00Z", "2021-01-02T00:00Z"],
        format="ISO8601",
    )
    rows = [
        {"body": text, "y": y, "ts": int(stamp.value // 1_000_000), "n": 10**18 + i}
        for i, (text, y, stamp) in enumerate(zip(TEXTS, [2, 0, 1, 2, 1], times, strict=True))
    ]
    path = tmp_path / "labels.jsonl"
    path.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in rows) + "\n\n", encoding="utf-8")
    frame = load(
        "jsonl",
        path=path,
        text_column="body",
        label_column="y",
        date_column="ts",
        id_column="n",
        label_map={0: "negative", 1: "neutral", 2: "positive"},
    )
    assert frame["text"].tolist() == TEXTS
    assert frame["label"].tolist() == ["positive", "negative", "neutral", "positive", "neutral"]
    assert frame["published_at"].tolist() == list(times)
    # Ids larger than a float can hold survive exactly.
    assert frame["id"].tolist() == [str(10**18 + i) for i in range(5)]
    # A map read from JSON has string keys; it works the same.
    same = load(
        "jsonl",
        path=path,
        text_column="body",
        label_column="y",
        label_map={"0": "negative", "1": "neutral", "2": "positive"},
    )
    assert same["label"].tolist() == frame["label"].tolist()


def test_empty_text_rows_are_dropped_with_a_warning(load: Callable[..., pd.DataFrame], tmp_path: Path) -> None:
    path = tmp_path / "gaps.csv"
    path.write_text("text,label\nUp,positive\n,negative\n   ,neutral\nDown,negative\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = load("csv", path=path)
    assert frame["text"].tolist() == ["Up", "Down"]
    assert data_warnings(caught) == [
        f"dataset 'csv', file {path}: dropped 2 rows with empty text in column 'text' (first: row 2)"
    ]
    jsonl = tmp_path / "gaps.jsonl"
    jsonl.write_text('{"text": "Up", "label": "positive"}\n{"text": null, "label": "neutral"}\n{"label": "neutral"}\n')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert load("jsonl", path=jsonl)["text"].tolist() == ["Up"]
    assert data_warnings(caught) == [
        f"dataset 'jsonl', file {jsonl}: dropped 2 lines with empty text in column 'text' (first: line 2)"
    ]


# --- csv and jsonl: every bad input is one clear error -----------------------------------------


@pytest.fixture
def csv_file(tmp_path: Path) -> Callable[[str], Path]:
    def write(content: str, name: str = "data.csv") -> Path:
        path = tmp_path / name
        path.write_text(content, encoding="utf-8")
        return path

    return write


CSV_ERRORS: list[tuple[str, str, dict[str, Any], type[Exception], str]] = [
    (
        "missing column",
        "sentence,label\nUp,positive\n",
        {},
        DataError,
        "missing column(s) 'text' (option text_column); the file has columns 'sentence', 'label'",
    ),
    (
        "two missing columns",
        "body,tone\nUp,positive\n",
        {"text_column": "bodyy", "date_column": "date"},
        DataError,
        "missing column(s) 'bodyy' (option text_column) (did you mean 'body'?), 'label' (option label_column), "
        "'date' (option date_column); the file has columns 'body', 'tone'",
    ),
    ("header only", "text,label\n", {}, DataError, "the dataset is empty (no rows of data)"),
    ("zero bytes", "", {}, DataError, "the file is empty (expected a header row, then one row per text)"),
    (
        "all text empty",
        "text,label\n,positive\n ,neutral\n",
        {},
        DataError,
        "the dataset is empty: all 2 rows have empty text in column 'text'",
    ),
    (
        "unexpected labels",
        "text,label\na,bullish\nb,neutral\nc,bearish\nd,bullish\n",
        {},
        DataError,
        "unexpected label(s) 'bearish' (1 row), 'bullish' (2 rows) in column 'label'; the sentiment task takes "
        "negative, neutral, positive (option label_map maps other labels onto them)",
    ),
    (
        "numeric labels without a map",
        "text,label\na,2\nb,0\nc,1\nd,0\n",
        {},
        ConfigError,
        "column 'label' holds numeric labels (0, 1, 2); pass option label_map to say which is which, e.g. "
        "{'0': 'negative', '1': 'neutral', '2': 'positive'} (check the data's documentation: orders differ)",
    ),
    (
        "labels missing from the map",
        "text,label\na,0\nb,1\nc,3\nd,4\n",
        {"label_map": {0: "negative", 1: "positive"}},
        DataError,
        "label(s) '3' (1 row), '4' (1 row) in column 'label' are not keys of option 'label_map' (its keys: '0', '1')",
    ),
    (
        "a row without a label",
        "text,label\na,positive\nb,\n",
        {},
        DataError,
        "1 row has no label in column 'label' (first: row 2)",
    ),
    (
        "an unreadable date",
        "text,label,date\na,positive,2021-01-01\nb,neutral,yesterday\n",
        {"date_column": "date"},
        DataError,
        "row 2: cannot read 'yesterday' in column 'date' as a date",
    ),
    (
        "a missing date",
        "text,label,date\na,positive,2021-01-01\nb,neutral,\n",
        {"date_column": "date"},
        DataError,
        "row 2 has no date in column 'date'",
    ),
    (
        "a repeated id",
        "id,text,label\nx,a,positive\ny,b,neutral\nx,c,neutral\n",
        {"id_column": "id"},
        DataError,
        "id 'x' in column 'id' appears twice (rows 1 and 3)",
    ),
]


@pytest.mark.filterwarnings("ignore::fintrade.cache.DataWarning")
@pytest.mark.parametrize(
    ("content", "options", "error", "expected"), [c[1:] for c in CSV_ERRORS], ids=[c[0] for c in CSV_ERRORS]
)
def test_csv_bad_input(
    load: Callable[..., pd.DataFrame],
    csv_file: Callable[[str], Path],
    content: str,
    options: dict[str, Any],
    error: type[Exception],
    expected: str,
) -> None:
    path = csv_file(content)
    with pytest.raises(error) as raised:
        load("csv", path=str(path), **options)
    assert type(raised.value) is error
    assert message(raised) == f"dataset 'csv', file {path}: {expected}"
    assert "\n" not in message(raised)


def test_undecodable_bytes_name_the_file_offset_and_line(load: Callable[..., pd.DataFrame], tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("text,label\nCaf\xe9 sales up,positive\n".encode("latin-1"))
    with pytest.raises(DataError) as raised:
        load("csv", path=path)
    assert message(raised) == (
        f"dataset 'csv', file {path}: byte 14 (line 2) is 0xe9, which is not valid utf-8; "
        "save the file as UTF-8 or pass option encoding (e.g. 'latin-1')"
    )
    assert load("csv", path=path, encoding="latin-1")["text"].tolist() == ["Caf\xe9 sales up"]
    jsonl = tmp_path / "latin.jsonl"
    jsonl.write_bytes('{"text": "ok", "label": "neutral"}\n{"text": "Caf\xe9", "label": "neutral"}\n'.encode("latin-1"))
    with pytest.raises(DataError) as raised:
        load("jsonl", path=jsonl)
    assert message(raised).startswith(f"dataset 'jsonl', file {jsonl}: byte 48 (line 2) is 0xe9,")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            '{"text": "a", "label": "positive"}\n{"text": "b", "label": \n',
            "line 2: invalid JSON (Expecting value at column 24)",
        ),
        ('{"text": "a", "label": "positive"}\n["b", "neutral"]\n', "line 2: expected a JSON object, got list"),
        ('{"text": ["a"], "label": "positive"}\n', "line 1: column 'text' holds list ['a'], not text"),
        ('{"text": "a"}\n{"text": "b", "label": null}\n', "2 lines have no label in column 'label' (first: line 1)"),
        ("\n\n", "the dataset is empty (no lines of data)"),
    ],
)
def test_jsonl_bad_input(load: Callable[..., pd.DataFrame], tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text(content)
    with pytest.raises(DataError) as raised:
        load("jsonl", path=path)
    assert message(raised) == f"dataset 'jsonl', file {path}: {expected}"


def test_jsonl_line_numbers_count_blank_lines(load: Callable[..., pd.DataFrame], tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text('{"text": "a", "label": "neutral"}\n\n{"text": "b"}\n')
    with pytest.raises(DataError) as raised:
        load("jsonl", path=path)
    assert message(raised) == f"dataset 'jsonl', file {path}: 1 line has no label in column 'label' (first: line 3)"


@pytest.mark.parametrize(
    ("options", "error", "expected"),
    [
        ({}, ConfigError, "dataset 'csv': option 'path' is required (a .csv or .csv.gz file)"),
        ({"path": "{tmp}/nope.csv"}, DataError, "dataset 'csv': file {tmp}/nope.csv does not exist (option 'path')"),
        ({"path": "{tmp}"}, DataError, "dataset 'csv': {tmp} is not a file (option 'path')"),
        (
            {"path": "{tmp}/x.csv", "text_column": ""},
            ConfigError,
            "dataset 'csv': option 'text_column' must be a non-empty string, got ''",
        ),
        (
            {"path": "{tmp}/x.csv", "label_map": {"up": "bullish"}},
            ConfigError,
            "dataset 'csv': option 'label_map' maps 'up' to 'bullish'; "
            "targets must be one of negative, neutral, positive",
        ),
        (
            {"path": "{tmp}/x.csv", "label_map": ["positive"]},
            ConfigError,
            "dataset 'csv': option 'label_map' must be a non-empty mapping from raw labels to negative, neutral, "
            "positive, got ['positive']",
        ),
        (
            {"path": "{tmp}/x.csv", "label_map": {1: "positive", "1": "negative"}},
            ConfigError,
            "dataset 'csv': option 'label_map' maps '1' twice, to 'positive' and 'negative'",
        ),
        (
            {"path": "{tmp}/x.csv", "encoding": "klingon"},
            ConfigError,
            "dataset 'csv': option 'encoding': unknown encoding 'klingon'",
        ),
        (
            {"path": "{tmp}/x.csv", "text_colum": "t"},
            ConfigError,
            "dataset 'csv': unknown option 'text_colum' (did you mean 'text_column'?); options are date_column, "
            "encoding, id_column, label_column, label_map, path, text_column",
        ),
    ],
)
def test_file_options_are_checked(
    load: Callable[..., pd.DataFrame], tmp_path: Path, options: dict[str, Any], error: type[Exception], expected: str
) -> None:
    (tmp_path / "x.csv").write_text("text,label\nUp,positive\n")
    filled = {k: v.replace("{tmp}", str(tmp_path)) if isinstance(v, str) else v for k, v in options.items()}
    with pytest.raises(error) as raised:
        load("csv", **filled)
    assert type(raised.value) is error
    assert message(raised) == expected.replace("{tmp}", str(tmp_path))


# --- split_dataset, dataset_hash, latest_date -------------------------------------------------


def labelled(per_label: dict[str, int], seed: int = 0, dated: bool = False) -> pd.DataFrame:
    """Rows with the given label counts, interleaved at random; optionally shuffled dates."""
    labels = [label for label, n in per_label.items() for _ in range(n)]
    rng = np.random.default_rng(seed)
    labels = [labels[i] for i in rng.permutation(len(labels))]
    frame = pd.DataFrame({"text": [f"text {i}" for i in range(len(labels))], "label": labels})
    frame["id"] = [f"r{i}" for i in range(len(frame))]
    if dated:
        stamps = pd.date_range("2020-01-01", periods=len(frame), freq="h", tz="UTC")
        frame["published_at"] = stamps[rng.permutation(len(frame))]
    return frame


@pytest.fixture
def unbalanced() -> pd.DataFrame:
    return labelled({"negative": 151, "neutral": 607, "positive": 242})


def test_split_is_disjoint_and_complete(unbalanced: pd.DataFrame) -> None:
    parts = split_dataset(unbalanced, seed=3)
    assert list(parts) == ["train", "validation", "test"]
    ids = [set(part["id"]) for part in parts.values()]
    assert not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])
    assert ids[0] | ids[1] | ids[2] == set(unbalanced["id"])
    assert sum(len(part) for part in parts.values()) == len(unbalanced)
    # The original index labels are kept, and each split keeps the frame's order.
    for part in parts.values():
        assert part["id"].tolist() == unbalanced.loc[part.index, "id"].tolist()
        assert part.index.is_monotonic_increasing


@pytest.mark.parametrize("fractions", [(0.8, 0.1, 0.1), (0.6, 0.2, 0.2), (0.5, 0.3, 0.2)])
def test_split_stratifies_within_one_row_per_class(
    unbalanced: pd.DataFrame, fractions: tuple[float, float, float]
) -> None:
    parts = split_dataset(unbalanced, fractions=fractions, seed=0)
    totals = unbalanced["label"].value_counts()
    for (name, part), fraction in zip(parts.items(), fractions, strict=True):
        found = part["label"].value_counts()
        for label, total in totals.items():
            assert abs(found.get(label, 0) - total * fraction) <= 1, (name, label)
        assert abs(len(part) - len(unbalanced) * fraction) <= 3  # at most one row per class


def test_split_is_deterministic_per_seed(unbalanced: pd.DataFrame) -> None:
    first = split_dataset(unbalanced, seed=7)
    again = split_dataset(unbalanced.copy(), seed=7)
    other = split_dataset(unbalanced, seed=8)
    for name in first:
        assert first[name]["id"].tolist() == again[name]["id"].tolist()
    assert first["test"]["id"].tolist() != other["test"]["id"].tolist()


def test_time_split_is_in_time_order() -> None:
    frame = labelled({"negative": 30, "neutral": 50, "positive": 20}, dated=True)
    parts = split_dataset(frame, how="time", fractions=(0.7, 0.2, 0.1))
    assert [len(part) for part in parts.values()] == [70, 20, 10]
    assert parts["train"]["published_at"].max() <= parts["validation"]["published_at"].min()
    assert parts["validation"]["published_at"].max() <= parts["test"]["published_at"].min()
    for part in parts.values():
        assert part["published_at"].is_monotonic_increasing
    # The seed has no say in a time split.
    assert (
        parts["test"]["id"].tolist()
        == split_dataset(frame, how="time", fractions=(0.7, 0.2, 0.1), seed=9)["test"]["id"].tolist()
    )


def test_time_split_keeps_ties_in_frame_order() -> None:
    frame = pd.DataFrame(
        {
            "text": list("abcdefghij"),
            "label": ["neutral"] * 10,
            "published_at": pd.to_datetime(["2020-01-02"] * 5 + ["2020-01-01"] * 5, utc=True),
        }
    )
    parts = split_dataset(frame, how="time", fractions=(0.6, 0.2, 0.2))
    assert (
        "".join(parts["train"]["text"]) + "".join(parts["validation"]["text"]) + "".join(parts["test"]["text"])
        == "fghijabcde"
    )


@pytest.mark.parametrize(
    ("frame", "kwargs", "error", "expected"),
    [
        (
            labelled({"neutral": 10}),
            {"how": "time"},
            DataError,
            "split_dataset: how='time' needs a 'published_at' column and this dataset has no dates; "
            "use how='stratified'",
        ),
        (
            labelled({"neutral": 10}).assign(published_at=pd.NaT),
            {"how": "time"},
            DataError,
            "split_dataset: how='time' needs a date on every row; 10 of 10 rows have no published_at",
        ),
        (labelled({}), {}, DataError, "split_dataset: the dataset is empty; there is nothing to split"),
        (
            labelled({"neutral": 3}),
            {},
            DataError,
            "split_dataset: the test split would be empty (10% of 3 rows); use more rows or a larger test fraction",
        ),
        (
            labelled({"neutral": 10}),
            {"how": "random"},
            ConfigError,
            "split_dataset: unknown how='random'; use 'stratified' or 'time'",
        ),
        (
            labelled({"neutral": 10}),
            {"how": "stratify"},
            ConfigError,
            "split_dataset: unknown how='stratify' (did you mean 'stratified'?); use 'stratified' or 'time'",
        ),
        (
            labelled({"neutral": 10}),
            {"fractions": (0.8, 0.2)},
            ConfigError,
            "split_dataset: fractions must be three numbers above 0 that add up to 1 (train, validation, test), "
            "got (0.8, 0.2)",
        ),
        (
            labelled({"neutral": 10}),
            {"fractions": (0.9, 0.1, 0.0)},
            ConfigError,
            "split_dataset: fractions must be three numbers above 0 that add up to 1 (train, validation, test), "
            "got (0.9, 0.1, 0.0)",
        ),
        (
            labelled({"neutral": 10}).drop(columns="label"),
            {},
            DataError,
            "split_dataset: how='stratified' needs a 'label' column",
        ),
    ],
    ids=[
        "time-undated",
        "time-nat",
        "empty",
        "empty-split",
        "unknown-how",
        "typo-how",
        "two-fractions",
        "zero-fraction",
        "no-label",
    ],
)
def test_split_errors(frame: pd.DataFrame, kwargs: dict[str, Any], error: type[Exception], expected: str) -> None:
    with pytest.raises(error) as raised:
        split_dataset(frame, **kwargs)
    assert message(raised) == expected


def test_split_of_real_tweets_keeps_proportions(load: Callable[..., pd.DataFrame]) -> None:
    frame = load("twitter-fin")
    parts = split_dataset(frame, seed=0)
    assert [len(part) for part in parts.values()] == [7634, 955, 954]
    assert counts(parts["test"]) == [144, 618, 192]


def test_dataset_hash_pins_its_encoding() -> None:
    frame = pd.DataFrame({"text": ["Up 5 %", "Müller"], "label": ["positive", "neutral"], "id": ["a", "b"]})
    expected = hashlib.sha256(b"fintrade-dataset-hash-v1\n6:Up 5 %8:positive7:M\xc3\xbcller7:neutral").hexdigest()
    assert dataset_hash(frame) == expected


def test_dataset_hash_follows_text_label_and_order() -> None:
    frame = labelled({"negative": 5, "neutral": 5, "positive": 5})
    base = dataset_hash(frame)
    assert dataset_hash(frame.copy()) == base
    assert dataset_hash(frame.assign(id="other", published_at=pd.Timestamp("2020-01-01", tz="UTC"))) == base
    assert dataset_hash(frame.reset_index(drop=True).set_axis(range(100, 115))) == base
    relabelled = frame.copy()
    relabelled.loc[0, "label"] = "neutral" if frame.loc[0, "label"] != "neutral" else "positive"
    assert dataset_hash(relabelled) != base
    assert dataset_hash(frame.iloc[::-1]) != base  # order-dependent, as documented
    # Field boundaries cannot be faked by moving characters between text and label.
    assert dataset_hash(pd.DataFrame({"text": ["ab"], "label": ["c"]})) != dataset_hash(
        pd.DataFrame({"text": ["a"], "label": ["bc"]})
    )


def test_latest_date() -> None:
    assert latest_date(labelled({"neutral": 3})) is None
    dated = labelled({"neutral": 3}, dated=True)
    assert latest_date(dated) == pd.Timestamp("2020-01-01T02:00Z")
    naive = pd.DataFrame({"published_at": pd.to_datetime(["2021-05-01", None, "2021-04-01"])})
    assert latest_date(naive) == pd.Timestamp("2021-05-01", tz="UTC")
    assert latest_date(pd.DataFrame({"published_at": pd.Series([pd.NaT, pd.NaT])})) is None
