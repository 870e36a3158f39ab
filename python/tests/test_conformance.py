"""The cross-language conformance scenarios (tests/scenarios/*.jsonl) run through the wheel.

Implements the runner contract of tests/scenarios/README.md with the same subset matcher as
the Rust runner (core/tests/conformance.rs), so both must agree on every scenario.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import convstate
from conftest import REPO_ROOT

SCENARIOS = sorted((REPO_ROOT / "tests" / "scenarios").glob("*.jsonl"))


def subset_matches(expected: Any, actual: Any) -> bool:
    """Every key of an expected object is present with a matching value (an empty expected
    object matches only an empty one); arrays match
    element-wise with equal length; scalars are equal (and of the same JSON type)."""
    if isinstance(expected, dict):
        if not expected:  # `{}` checks that a map is empty (it names no key to check)
            return actual == {}
        return isinstance(actual, dict) and all(
            key in actual and subset_matches(value, actual[key]) for key, value in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(subset_matches(e, a) for e, a in zip(expected, actual))
        )
    # JSON has no bool/int confusion: True must not match 1.
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    return bool(expected == actual)


def scenario_lines(path: Path) -> list[str]:
    """A scenario's lines as the Rust and C runners read them: split at `\\n` alone (a
    trailing `\\r` dropped). `str.splitlines` also splits at U+0085, U+2028 and others,
    which JSON strings may hold unescaped, and would cut such a line in two."""
    return [line.removesuffix("\r") for line in path.read_text(encoding="utf-8").split("\n")]


def run_scenario(path: Path) -> int:
    lines = [(n, line) for n, line in enumerate(scenario_lines(path), 1) if line.strip()]
    assert lines, "empty scenario"
    header = json.loads(lines[0][1])
    assert "scenario" in header, 'the first line must be a {"scenario": ...} header'
    engine = convstate.Engine(policy=header["policy"], policy_overrides=header.get("policy_overrides"))
    checks = 0
    for line_no, line in lines[1:]:
        event = json.loads(line)
        outputs = [json.loads(out) for out in engine.handle_json(line)]
        if "expect" in event:
            checks += 1
            assert subset_matches(event["expect"], outputs[0]), (
                f"line {line_no}: expected {event['expect']}\n  got {outputs[0]}"
            )
        if "expect_effects" in event:
            checks += 1
            assert subset_matches(event["expect_effects"], outputs[1:]), (
                f"line {line_no}: expected effects {event['expect_effects']}\n  got {outputs[1:]}"
            )
    assert checks > 0, "scenario has no expect annotation"
    return checks


def test_there_are_scenarios() -> None:
    assert SCENARIOS, "no scenarios found"


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario(path: Path) -> None:
    run_scenario(path)


def gives_a_key_twice(line: str) -> bool:
    """Whether an object of the JSON line gives a key twice (a dict keeps one of them)."""
    twice = False

    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        nonlocal twice
        twice = twice or len({key for key, _ in items}) < len(items)
        return dict(items)

    json.loads(line, object_pairs_hook=pairs)
    return twice


def test_a_key_given_twice_is_told_at_any_depth() -> None:
    assert gives_a_key_twice('{"a":{"b":1,"b":2}}')
    assert not gives_a_key_twice('{"a":{"b":1},"c":{"b":2}}')


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_batch_and_dict_doors_agree_with_the_line_door(path: Path) -> None:
    """`process` (GIL released) and `handle` on dicts give what `handle_json` gives."""
    lines = [line for line in scenario_lines(path) if line.strip()]
    header = json.loads(lines[0])

    def make() -> convstate.Engine:
        return convstate.Engine(policy=header["policy"], policy_overrides=header.get("policy_overrides"))

    by_line, by_batch, by_dicts, by_dict = make(), make(), make(), make()
    outputs = [by_line.handle_json(line) for line in lines[1:]]
    assert by_batch.process(lines[1:]) == [out for outs in outputs for out in outs]
    # A line that gives a key twice has no dict: the line door refuses it and changes
    # nothing, so the dict doors are compared on the other lines.
    as_dicts = [
        (line, outs) for line, outs in zip(lines[1:], outputs) if not gives_a_key_twice(line)
    ]
    expected = [out for _, outs in as_dicts for out in outs]
    assert by_dicts.process([json.loads(line) for line, _ in as_dicts]) == expected

    reference = make()
    for line, _ in as_dicts:
        result_line, *effect_lines = reference.handle_json(line)
        result, effects = json.loads(result_line), [json.loads(out) for out in effect_lines]
        try:
            output = by_dict.handle(json.loads(line))
        except convstate.ConvstateError as error:
            assert result["type"] == "error" and error.code == result["error"]
            continue
        if result["type"] == "ack":
            # What the ack's flags say, as the typed calls return it.
            if result["of"] == "inbound":
                redelivered = result.get("redelivered", False)
                assert output is convstate.InboundOutcome("redelivered" if redelivered else "taken")
            elif result["of"] == "message_status":
                unmatched = result.get("unmatched", False)
                assert output is convstate.StatusOutcome("unmatched" if unmatched else "matched")
            else:
                assert output is None
        elif result["type"] == "decision":
            assert isinstance(output, convstate.Decision)
            assert output.to_json() == result_line, "the wire line, byte for byte"
        else:
            assert isinstance(output, dict)
        assert [e["effect"] for e in by_dict.effects()] == [e["effect"] for e in effects]
    assert by_dict.snapshot() == reference.snapshot()


def test_matcher_is_strict_where_it_must_be() -> None:
    actual = {"a": 1, "b": {"c": 2, "d": 3}, "e": [1, 2]}
    assert subset_matches({"b": {"c": 2}}, actual)
    assert not subset_matches({"b": {"c": 3}}, actual)
    assert not subset_matches({"z": None}, actual)
    assert not subset_matches({"e": [1]}, actual)
    assert subset_matches([], [])
    assert not subset_matches([], [{"effect": "x"}])
    assert not subset_matches(True, 1)
