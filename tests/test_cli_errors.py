"""Bad command-line input ends ``python -m autoscale`` with one ``error:`` line and exit status 2,
before anything is trained; no traceback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from autoscale.commands import record_commands
from autoscale.commands.cli import main, parser, train_config
from autoscale.experiments import runs
from autoscale.experiments.records import RecordProblem
from autoscale.training.trainer import Trainer

TRAIN = ["train", "--benchmark", "multimnist", "--profile", "smoke"]


@pytest.fixture(autouse=True)
def no_training(monkeypatch: pytest.MonkeyPatch, results_root: Path) -> Iterator[None]:
    """Every case must fail while its input is checked: training, or a record written, fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("training started")

    monkeypatch.setattr(Trainer, "__init__", refuse)
    monkeypatch.setattr(runs, "run", refuse)
    monkeypatch.setattr(runs, "run_sweep_plan", refuse)
    yield
    assert not results_root.exists(), "the command wrote to the results root"


def exit_status(argv: list[str]) -> int:
    """The exit status of ``main(argv)``, which bad input ends with SystemExit, as argparse's own errors."""
    with pytest.raises(SystemExit) as stop:
        main(argv)
    return stop.value.code  # type: ignore[return-value]


def the_error(argv: list[str], capsys: pytest.CaptureFixture) -> str:
    """The one stderr line of a command that fails on its input (status 2)."""
    status = exit_status(argv)
    err = capsys.readouterr().err
    assert status == 2, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.mark.parametrize(
    ("option", "named"),
    [
        ("weights=[1,2", "weights=[1,2 is not valid JSON"),
        ("weights=[1,2,3]", "needs 2 weights"),
        ("weights=abc", "bad options for method 'linear'"),
        ("weights=", "weights= has no value"),
        ("weights", "expects KEY=VALUE"),
        ("foo=1", "'foo'"),
    ],
)
def test_bad_linear_options(option: str, named: str, capsys: pytest.CaptureFixture) -> None:
    assert named in the_error([*TRAIN, "--method", "linear", "--option", option], capsys)


@pytest.mark.parametrize(
    ("option", "named"),
    [
        ("alpha=2", "alpha must be in [0, 1], got 2"),
        ("alpha=abc", "alpha must be in [0, 1], got 'abc'"),
        ("alpha=.5", "alpha=.5 is not valid JSON"),
        ("explore=nosuch", "unknown method 'nosuch'"),
    ],
)
def test_bad_autoscale_options(option: str, named: str, capsys: pytest.CaptureFixture) -> None:
    assert named in the_error([*TRAIN, "--method", "autoscale", "--option", option], capsys)


def test_a_device_this_machine_lacks(capsys: pytest.CaptureFixture) -> None:
    assert "--device nosuch" in the_error([*TRAIN, "--device", "nosuch"], capsys)


def test_ray_options_without_ray(capsys: pytest.CaptureFixture) -> None:
    argv = ["sweep", "--benchmark", "multimnist", "--profile", "smoke", "--address", "auto"]
    assert "--engine ray only" in the_error(argv, capsys)


def test_a_damaged_record_is_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    def damaged(store: object) -> str:
        raise RecordProblem(Path("smoke/multimnist/abc.json"), "is truncated", "restore it\nor retrain it")

    monkeypatch.setattr(record_commands, "default_profile", damaged)
    line = the_error(["records", "default-profile"], capsys)
    assert "abc.json: is truncated; restore it or retrain it" in line


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        ([*TRAIN, "--method", "nosuch"], "invalid choice: 'nosuch'"),
        (["train", "--benchmark", "nosuch"], "invalid choice: 'nosuch'"),
        (["sweep", "--benchmark", "multimnist", "--n-weights", "0"], "expected an integer >= 1, got 0"),
        (["records", "verify", "--sample", "-1"], "expected an integer >= 0, got -1"),
    ],
)
def test_argparse_errors(argv: list[str], named: str, capsys: pytest.CaptureFixture) -> None:
    """argparse's own errors stay as they are: its usage, then one line ``<prog>: error: ...``."""
    assert exit_status(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if "error: " in line]
    assert errors == [err.splitlines()[-1]] and named in errors[0], err


def test_good_options_are_parsed_as_json_or_names() -> None:
    args = parser().parse_args(
        [*TRAIN, "--method", "autoscale", "--option", "explore=mgda", "--option", "alpha=0.3", "--option", "window=5"]
    )
    assert train_config(args).method_options == {"explore": "mgda", "alpha": 0.3, "window": 5}
