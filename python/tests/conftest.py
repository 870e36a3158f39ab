from __future__ import annotations

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
