"""Type-checked only (mypy --strict): the stubs accept what the runtime accepts (run_batch's
columns, bytes-like arguments)."""
from array import array
from collections.abc import Iterator
from typing import Any

import convstate


class Int64Column:
    """Stands for a numpy array: a buffer of ints, but no Sequence."""

    def __buffer__(self, flags: int, /) -> memoryview:
        return memoryview(array("q", [1793610000000]))


class ArrayColumn:
    """Stands for a numpy array or a pandas Series of any dtype as typeshed-era stubs see
    them: sized, iterable (items typed Any) and indexable, but no Sequence, and no Buffer
    before Python 3.12 (numpy declares __buffer__ from 3.12 only)."""

    def __len__(self) -> int:
        return 1

    def __iter__(self) -> Iterator[Any]:
        return iter(["+15550001111"])

    def __getitem__(self, index: int, /) -> Any:
        return "+15550001111"


def check(engine: convstate.Engine, sharded: convstate.ShardedEngine) -> None:
    contacts = ["+4915100000001"]
    engine.run_batch(bytes([0]), array("q", [1]), ["+15550001111"], contacts)
    engine.run_batch(Int64Column(), Int64Column(), ["+15550001111"], contacts)
    sharded.run_batch(Int64Column(), Int64Column(), ["+15550001111"], contacts)
    # Every column as an array (df["number"].to_numpy(), or the Series itself): run_batch
    # reads any sized iterable that is not a str, a set or a mapping.
    column = ArrayColumn()
    engine.run_batch(column, column, column, column, column, templates=column,
                     languages=column, params=column)
    sharded.run_batch(column, column, column, column, column, templates=column,
                      languages=column, params=column, automated=column)
    # automated: one bool for every row, a list of optional bools, or a buffer.
    engine.run_batch(column, column, column, column, column, automated=True)
    engine.run_batch(column, column, column, column, column, automated=[True, None])
    engine.run_batch(column, column, column, column, column, automated=bytes([1]))


def check_bytes_like(engine: convstate.Engine, sharded: convstate.ShardedEngine) -> None:
    snapshot = engine.snapshot()
    convstate.Engine.restore(bytearray(snapshot))
    convstate.Engine.restore(memoryview(snapshot))
    convstate.Engine.from_business_export(array("B", engine.export_business("acme")))
    engine.import_business(bytearray(b""))
    engine.process_bytes(memoryview(b""))
    sharded.process_bytes(bytearray(b""))
    sharded.import_business(memoryview(b""))
    convstate.ShardedEngine.restore(bytearray(sharded.snapshot()))
