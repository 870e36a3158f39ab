"""Type-checked only (mypy --strict, against numpy's own stubs, which test-python.sh installs):
numpy values the runtime reads type-check as the stubs' arguments."""
import numpy as np

import convstate


def check(engine: convstate.Engine, sharded: convstate.ShardedEngine) -> None:
    at = np.datetime64(1793610000000, "ms")
    engine.inbound("+15550001111", "+4915100000001", at=at)
    engine.send("+15550001111", "+4915100000001", text="Hi", at=at.astype("datetime64[ns]"))
    engine.tick(np.datetime64("NaT"))  # raises at runtime, but is a datetime64
    sharded.tick(at)
    column = np.array([1793610000000], dtype="datetime64[ms]")
    engine.run_batch(np.array([0], dtype=np.uint8), column, np.array(["+15550001111"]),
                     np.array(["+4915100000001"]))
    engine.run_batch(["inbound"], column.tolist(), ["+15550001111"], ["+4915100000001"])
    convstate.ShardedEngine(shards=np.int64(2))  # a count read from a frame


def check_params_arrays(engine: convstate.Engine, sharded: convstate.ShardedEngine) -> None:
    # A params cell may be a numpy array (a list column after pd.read_parquet).
    params = [np.array(["A-1"], dtype=object), None]
    engine.run_batch(["send", "send"], [1793610000000] * 2, ["+15550001111"] * 2,
                     ["+4915100000001"] * 2, templates=["order_ready", None],
                     languages=["en", None], params=params)
    sharded.run_batch([1], [1793610000000], ["+15550001111"], ["+4915100000001"],
                      templates=["order_ready"], languages=["en"],
                      params=[np.array(["A-1"])])
