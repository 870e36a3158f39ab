from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest

import convstate

REPO_ROOT = Path(__file__).resolve().parents[2]
NUMBER = "+15550001111"
CONTACT = "+79110000001"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


@pytest.fixture
def engine() -> convstate.Engine:
    engine = convstate.Engine(policy="cloud-2025")
    engine.register_number(NUMBER, business="acme", channel="official", at=utc(2026, 11, 2, 8))
    return engine


def in_threads(count: int, work: Callable[[int], None]) -> None:
    """Runs work(0) .. work(count - 1) in as many threads started together; fails if one
    raised (its error is shown) or hung."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def worker(index: int) -> None:
        try:
            barrier.wait()
            work(index)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    assert errors == []


class NAType:
    """Stands for pandas' `NA` (the missing value of a `StringDtype` column, which
    `to_numpy()` keeps): the wheel knows it by its class's name and module, without
    importing pandas. Like pandas' own, it has no truth value."""

    __module__ = "pandas._libs.missing"

    def __bool__(self) -> bool:
        raise TypeError("boolean value of NA is ambiguous")

    def __repr__(self) -> str:
        return "<NA>"


PANDAS_NA = NAType()


class Float64(float):
    """Stands for numpy's float64, a float subclass: its NaN is a missing value too."""
