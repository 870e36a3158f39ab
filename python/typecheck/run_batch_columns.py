"""Type-checked only (mypy --strict): run_batch's stubs accept what its runtime accepts."""
from array import array

import convstate


class Int64Column:
    """Stands for a numpy array: a buffer of ints, but no Sequence."""

    def __buffer__(self, flags: int, /) -> memoryview:
        return memoryview(array("q", [1793610000000]))


def check(engine: convstate.Engine, sharded: convstate.ShardedEngine) -> None:
    contacts = ["+4915100000001"]
    engine.run_batch(bytes([0]), array("q", [1]), ["+15550001111"], contacts)
    engine.run_batch(Int64Column(), Int64Column(), ["+15550001111"], contacts)
    sharded.run_batch(Int64Column(), Int64Column(), ["+15550001111"], contacts)
