"""The README's library section: its diff turns the plain loop into the method loop, and both run as printed.

The section shows a ```diff against a plain ``losses.sum().backward()`` loop. The test rebuilds both
programs from it (context and ``-`` lines: the plain loop; context and ``+`` lines: the method loop),
runs the plain loop, runs the method loop as printed (AutoScale through both phases), and runs the
method loop with every registered method in place of AutoScale (the README says it serves all), with
checks that each piece the diff adds does its job: the Gramian is computed exactly on the steps that
need it and over the right tensors, ``method.parameters()`` are trained, ``post_step`` is called
whenever it is asked for.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import torch
from test_method_properties import spec_of

import autoscale.gramian
import autoscale.methods
from autoscale.methods import available_methods

README = Path(__file__).resolve().parents[1] / "README.md"
HEADING = "## Use it in your own training loop"
BUILD_LINE = re.compile(r"^method = build_method\(.*$", flags=re.MULTILINE)
STEPS_LINE = "total_steps = 200"


def section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(HEADING)
    end = text.find("\n## ", start + len(HEADING))
    return text[start : end if end != -1 else len(text)]


def diff_block() -> str:
    match = re.search(r"```diff\n(.*?)```", section(), flags=re.DOTALL)
    assert match, f"no diff block under {HEADING!r}"
    return match.group(1)


def programs() -> tuple[str, str]:
    """(plain loop, method loop) rebuilt from the diff; a blank line counts as context."""
    before, after = [], []
    for line in diff_block().splitlines():
        marker, code = (line[:1], line[1:]) if line else (" ", "")
        assert marker in " +-", f"not a diff line: {line!r}"
        if marker != "+":
            before.append(code)
        if marker != "-":
            after.append(code)
    return "\n".join(before) + "\n", "\n".join(after) + "\n"


def test_library_section_comes_first() -> None:
    text = README.read_text(encoding="utf-8")
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings[0] == HEADING


def test_diff_is_against_a_plain_sum_loop() -> None:
    before, after = programs()
    assert "losses.sum().backward()" in before and "losses.sum()" not in after
    for piece in (
        "build_method(",
        "compute_gramian(",
        "method.needs_gramian",
        "method.weights(",
        "method.objective(losses, w).backward()",
        "method.needs_post_step_losses",
        "method.post_step(",
        "*method.parameters()",
    ):
        assert piece in after and piece not in before, piece


def run(code: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "readme_snippet"}
    exec(compile(code, str(README), "exec"), namespace)
    return namespace


def test_plain_loop_runs() -> None:
    before, _ = programs()
    namespace = run(before)
    assert torch.isfinite(namespace["losses"]).all()


def test_method_loop_runs_autoscale_through_both_phases() -> None:
    _, after = programs()
    namespace = run(after)
    method = namespace["method"]
    assert method.step == namespace["total_steps"] == 200
    assert method.switch_step == 40 and method.phase == "scalarize" and not method.needs_gramian
    assert method.window_weights.shape == (4, 2)  # four exploration windows of 10 steps were solved
    assert method.final_weights.sum().item() == pytest.approx(2.0)


class Spy:
    """Counts what the loop does: Gramians (and over which tensors), weights calls, post_step calls."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.gramians: list[str] = []  # "representation" or "shared", one per Gramian computed
        self.asked_gramian: list[bool] = []  # method.needs_gramian at each weights() call
        self.asked_post_step: list[bool] = []
        self.post_steps = 0
        self.initial_parameters: list[torch.Tensor] = []
        real_gramian, real_build = autoscale.gramian.compute_gramian, autoscale.methods.build_method

        def compute_gramian(losses: torch.Tensor, inputs: Any, *args: Any, **kwargs: Any) -> torch.Tensor:
            self.gramians.append("representation" if isinstance(inputs, torch.Tensor) else "shared")
            return real_gramian(losses, inputs, *args, **kwargs)

        def build_method(*args: Any, **kwargs: Any) -> autoscale.methods.Weighting:
            method = real_build(*args, **kwargs)
            self.initial_parameters = [p.detach().clone() for p in method.parameters()]
            weights, post_step = method.weights, method.post_step

            def spied_weights(losses: torch.Tensor, gramian: torch.Tensor | None) -> torch.Tensor:
                self.asked_gramian.append(bool(method.needs_gramian))
                w = weights(losses, gramian)
                self.asked_post_step.append(bool(method.needs_post_step_losses))
                return w

            def spied_post_step(losses_after: torch.Tensor) -> None:
                self.post_steps += 1
                post_step(losses_after)

            method.weights, method.post_step = spied_weights, spied_post_step
            return method

        monkeypatch.setattr(autoscale.gramian, "compute_gramian", compute_gramian)
        monkeypatch.setattr(autoscale.methods, "build_method", build_method)


LOOP_STEPS = 20


def method_cases() -> list[Any]:
    cases = [pytest.param(name, {}, id=name) for name in available_methods()]
    # AutoScale's loop serves any explorer: learnable parameters (UW), post-step losses (FAMO).
    cases += [pytest.param("autoscale", {"explore": e}, id=f"autoscale-explore-{e}") for e in ("uw", "famo")]
    return cases


@pytest.mark.parametrize(("name", "extra"), method_cases())
def test_method_loop_serves_every_method(name: str, extra: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    _, after = programs()
    assert len(BUILD_LINE.findall(after)) == 1 and after.count(STEPS_LINE) == 1
    options = {**spec_of(name).options(2), **extra}
    if name == "autoscale":
        options |= {"total_steps": LOOP_STEPS, "alpha": 0.5, "window": 5}
    code = BUILD_LINE.sub(f"method = build_method({name!r}, 2, **{options!r})", after)
    code = code.replace(STEPS_LINE, f"total_steps = {LOOP_STEPS}")
    spy = Spy(monkeypatch)
    namespace = run(code)
    method = namespace["method"]
    encoder, heads = namespace["encoder"], namespace["heads"]
    assert all(torch.isfinite(p).all() for p in [*encoder.parameters(), *heads.parameters()])
    # The Gramian was computed exactly when the method asked for it, over the tensors it asked for.
    assert len(spy.asked_gramian) == LOOP_STEPS
    assert len(spy.gramians) == sum(spy.asked_gramian)
    assert set(spy.gramians) <= {method.gramian_source}
    # post_step after every step whose weights asked for it.
    assert spy.post_steps == sum(spy.asked_post_step)
    if name == "famo" or extra.get("explore") == "famo":
        assert spy.post_steps > 0
    if name == "autoscale":  # the Gramian only while exploring, then plain LS cost
        assert spy.asked_gramian == [t < method.switch_step for t in range(LOOP_STEPS)]
    # The method's own parameters were in the optimiser and got gradients through objective().
    if name == "uw" or extra.get("explore") == "uw":
        assert spy.initial_parameters
    for trained, start in zip(method.parameters(), spy.initial_parameters, strict=True):
        assert not torch.equal(trained.detach(), start)
