"""Type-checked only (mypy --strict): the stubs accept what the runtime accepts (run_batch's
columns, bytes-like arguments)."""
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
