"""convstate: WhatsApp Business conversation rules as a pure state machine.

>>> import convstate
>>> engine = convstate.Engine(policy="cloud-2025")

Everything is re-exported from the private native module ``convstate._convstate`` and the
pure-Python ``convstate._types`` (enums and exceptions).
"""

from convstate._types import (
    CapacityError,
    Channel,
    ChargeCategory,
    ConvstateError,
    FreeReason,
    InboundOutcome,
    Initiator,
    InvalidInputError,
    NotFoundError,
    PolicyError,
    Reason,
    SnapshotError,
    StatusOutcome,
    TemplateStatus,
    TicketStatus,
    UnixSecondsWarning,
    Verdict,
)
from convstate._convstate import (
    BatchResult,
    Billing,
    Decision,
    Engine,
    ShardedEngine,
    __version__,
    build_commit,
    wire_version,
)

__all__ = [
    "BatchResult",
    "Billing",
    "CapacityError",
    "Channel",
    "ChargeCategory",
    "ConvstateError",
    "Decision",
    "Engine",
    "FreeReason",
    "InboundOutcome",
    "Initiator",
    "InvalidInputError",
    "NotFoundError",
    "PolicyError",
    "Reason",
    "ShardedEngine",
    "SnapshotError",
    "StatusOutcome",
    "TemplateStatus",
    "TicketStatus",
    "UnixSecondsWarning",
    "Verdict",
    "__version__",
    "build_commit",
    "wire_version",
]
