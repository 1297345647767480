"""The training path reads datasets from the registry it is given, never from the process one.

A dataset registered only on a second plugin manager is found by every step that reads data
(the task, the split, evaluation's rows, distillation's check) when that manager's registry
is passed, and stays unknown to the process registry (the isolated ``fintrade_pm``). Nothing
here trains: each step is called on its own, before any model would load.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import fintrade
from fintrade.errors import ConfigError
from fintrade.plugin_manager import FintradePluginManager, PluginInfo, create_plugin_manager
from fintrade.registry import Registry, get_registry
from fintrade.types import AdapterMethod, Dataset

ONLY_HERE = "only-on-this-registry"
LABELS = ("negative", "neutral", "positive")


def _rows(options: Mapping[str, Any]) -> pd.DataFrame:
    return pd.DataFrame({"text": [f"sentence {i}" for i in range(30)], "label": [LABELS[i % 3] for i in range(30)]})


def _prompts(options: Mapping[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(
        {"prompt": [f"question {i}" for i in range(30)], "response": [f"answer {i}" for i in range(30)]}
    )


class OwnDatasets:
    @fintrade.hookimpl
    def fintrade_datasets(self) -> list[Dataset]:
        return [
            Dataset(name=ONLY_HERE, load=_rows, task="sentiment", labels=LABELS),
            Dataset(name=f"{ONLY_HERE}-sft", load=_prompts, task="sft"),
        ]


@pytest.fixture
def own_registry(fintrade_pm: FintradePluginManager) -> Registry:
    """A registry over a second manager (built-ins plus :class:`OwnDatasets`); ``fintrade_pm`` stays the process one."""
    pm = create_plugin_manager(load_entry_points=False)
    pm.register_plugin(OwnDatasets(), "own-datasets", PluginInfo("own-datasets", "test", "ok"))
    return Registry(pm)


def test_the_process_registry_does_not_know_the_dataset(own_registry: Registry) -> None:
    assert ONLY_HERE in own_registry.datasets
    assert ONLY_HERE not in get_registry().datasets


def test_the_task_comes_from_the_given_registry(own_registry: Registry) -> None:
    from fintrade_adapters.task_runs import resolve_task

    assert resolve_task(None, ONLY_HERE, own_registry) == "classification"
    assert resolve_task(None, f"{ONLY_HERE}-sft", own_registry) == "sft"
    with pytest.raises(ConfigError) as refused:
        resolve_task(None, ONLY_HERE)  # no registry passed: the process one, which lacks it
    assert str(refused.value).startswith(f"unknown dataset '{ONLY_HERE}'")


@pytest.mark.parametrize(("dataset", "task"), [(ONLY_HERE, "classification"), (f"{ONLY_HERE}-sft", "sft")])
def test_the_split_reads_the_given_registry(own_registry: Registry, dataset: str, task: str) -> None:
    from fintrade_adapters.config import TrainConfig
    from fintrade_adapters.task_runs import task_run

    config = TrainConfig.from_mapping({"model": "minilm", "dataset": dataset, "output": "unused"})
    labelled = task_run(task, registry=own_registry).split(config)
    assert labelled.name == dataset
    assert labelled.size == 30
    assert len(labelled.train) + len(labelled.validation) + len(labelled.test) == 30


def test_evaluation_rows_come_from_the_given_registry(own_registry: Registry) -> None:
    from fintrade_adapters.data import load_frame, trained_split

    assert len(load_frame(ONLY_HERE, registry=own_registry)) == 30
    manifest = {
        "dataset": {"name": ONLY_HERE, "options": {}},
        "hyperparameters": {"split": "stratified", "fractions": [0.8, 0.1, 0.1], "seed": 0},
    }
    assert trained_split(manifest, registry=own_registry).size == 30


def test_distillation_checks_the_dataset_in_the_given_registry(own_registry: Registry) -> None:
    """Its task check runs before the teacher or the student loads: an sft dataset is refused by name."""
    from fintrade_adapters.distillation import run

    values = {"dataset": f"{ONLY_HERE}-sft", "output": "unused", "teacher": "unused", "registry": own_registry}
    with pytest.raises(ConfigError) as refused:
        run(values)
    assert str(refused.value) == (
        f"method 'distill' trains a sentiment classifier, not task 'sft' (dataset '{ONLY_HERE}-sft')"
    )


def test_the_registry_entry_is_not_an_option(own_registry: Registry) -> None:
    from fintrade_adapters.config import training_options

    options, registry = training_options({"model": "minilm", "registry": own_registry})
    assert options == {"model": "minilm"}
    assert registry is own_registry
    with pytest.raises(ConfigError) as refused:
        training_options({"registry": "default"})
    assert str(refused.value) == "training 'registry' must be a fintrade.registry.Registry, got str"


def test_fintrade_train_hands_its_registry_to_the_method(
    register_plugin: Callable[..., str], cli_runner: Callable[..., Any], tmp_path: Path
) -> None:
    """The command looks the method up once and passes that same registry on, under ``registry``."""
    received: list[Mapping[str, Any]] = []

    def train(config: Mapping[str, Any]) -> Path:
        received.append(config)
        return tmp_path

    class Spy:
        @fintrade.hookimpl
        def fintrade_adapter_methods(self) -> list[AdapterMethod]:
            return [AdapterMethod(name="spy", train=train)]

    register_plugin(Spy(), name="spy")
    args = ["train", "--method", "spy", "--model", "minilm", "--dataset", ONLY_HERE, "--output", str(tmp_path)]
    result = cli_runner(args)
    assert result.exit_code == 0, result.stderr
    [config] = received
    assert isinstance(config["registry"], Registry)
    assert "spy" in config["registry"].adapter_methods
    assert config["dataset"] == ONLY_HERE
