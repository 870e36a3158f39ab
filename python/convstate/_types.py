"""Pure-Python types of the convstate package: enums and the exception hierarchy.

They live in Python (not in the native module) so that they are real ``enum.Enum`` and
``Exception`` subclasses that behave as Python users expect: iteration, ``.value``,
comparison with the wire strings (every enum is a ``str`` enum), ``except`` clauses.
The native module builds instances of them by calling the classes.
"""

from __future__ import annotations

import enum
from typing import Optional

__all__ = [
    "CapacityError",
    "Channel",
    "ChargeCategory",
    "ConvstateError",
    "FreeReason",
    "InboundOutcome",
    "Initiator",
    "InvalidInputError",
    "NotFoundError",
    "PolicyError",
    "Reason",
    "SnapshotError",
    "StatusOutcome",
    "TemplateStatus",
    "TicketStatus",
    "Verdict",
]


class Verdict(str, enum.Enum):
    """Whether a send may go ahead."""

    ALLOWED = "allowed"
    DENIED = "denied"


class Reason(str, enum.Enum):
    """Why a send was denied (the ``reason`` of the wire format's ``denial``).

    The engine may grow new reasons; a name this version of the package does not know maps
    to ``Reason.OTHER`` and the raw name is kept in ``Decision.details["reason"]``.
    """

    WINDOW_CLOSED = "window_closed"
    WITHIN_SAFETY_MARGIN = "within_safety_margin"
    GROUP_NOT_ALLOWED = "group_not_allowed"
    NO_PRIOR_CONTACT = "no_prior_contact"
    TOO_LONG = "too_long"
    FILE_TOO_LARGE = "file_too_large"
    TOO_MANY_BUTTONS = "too_many_buttons"
    TEMPLATE_NOT_SENDABLE = "template_not_sendable"
    TEMPLATE_PARAMS = "template_params"
    NO_OPT_IN = "no_opt_in"
    MARKETING_STOPPED = "marketing_stopped"
    MARKETING_TO_US_NUMBER = "marketing_to_us_number"
    DUPLICATE = "duplicate"
    NO_DEFAULT_TEMPLATE = "no_default_template"
    LIMIT_REACHED = "limit_reached"
    CONTACT_BACKOFF = "contact_backoff"
    RESTRICTED = "restricted"
    INVALID_CONTENT = "invalid_content"
    OTHER = "other"

    @classmethod
    def _missing_(cls, value: object) -> Optional[Reason]:
        # Tolerate reasons added to the engine after this package was built.
        return cls.OTHER if isinstance(value, str) else None


class Initiator(str, enum.Enum):
    """Who started the exchange a send belongs to."""

    CUSTOMER = "customer"
    BUSINESS = "business"


class Channel(str, enum.Enum):
    """Kind of a registered number."""

    OFFICIAL = "official"
    UNOFFICIAL = "unofficial"
    MESSENGER = "messenger"
    EMAIL = "email"


class ChargeCategory(str, enum.Enum):
    """Price category of a charged send."""

    MARKETING = "marketing"
    UTILITY = "utility"
    AUTHENTICATION = "authentication"
    SERVICE = "service"


class FreeReason(str, enum.Enum):
    """Why a send is free."""

    SERVICE_WINDOW = "service_window"
    CHANNEL_NOT_BILLED = "channel_not_billed"
    INSIDE_CONVERSATION = "inside_conversation"
    SERVICE_CONVERSATION = "service_conversation"
    FREE_ENTRY_POINT = "free_entry_point"
    UTILITY_IN_WINDOW = "utility_in_window"
    SERVICE_ALLOWANCE = "service_allowance"
    HELD = "held"


class TicketStatus(str, enum.Enum):
    """Status of a conversation's ticket."""

    OPEN = "open"
    PENDING = "pending"
    CLOSED = "closed"


class TemplateStatus(str, enum.Enum):
    """Review and quality status of a template."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    FLAGGED = "flagged"
    PAUSED = "paused"
    DISABLED = "disabled"
    IN_APPEAL = "in_appeal"
    PENDING_DELETION = "pending_deletion"
    DELETED = "deleted"
    LIMIT_EXCEEDED = "limit_exceeded"
    ARCHIVED = "archived"


class InboundOutcome(str, enum.Enum):
    """What an inbound did (``Engine.inbound``, and ``handle`` given one). Both members are
    non-empty strings, so test with ``is InboundOutcome.REDELIVERED``, not truthiness."""

    TAKEN = "taken"
    """Applied: a message (or call) the engine had not taken before, or had taken longer ago
    than the policy's ``provider.status_memory`` (7 days), or one without a ``message_id``."""
    REDELIVERED = "redelivered"
    """A message whose ``message_id`` the engine had already taken from its sender within
    ``provider.status_memory``: the provider delivered it again. It changed nothing; do not
    store it twice."""


class StatusOutcome(str, enum.Enum):
    """What a delivery status found (``handle`` given a ``message_status``). Test with
    ``is StatusOutcome.UNMATCHED``, not truthiness."""

    MATCHED = "matched"
    """About a send the number recorded under its ``message_id``."""
    UNMATCHED = "unmatched"
    """No send the number recorded has its ``message_id`` (not recorded yet, recorded under
    another id, or forgotten after ``provider.status_memory``): it confirmed no pricing and
    moved no delivery state; a failure's corrections still applied to the conversation.
    Statuses that never match tell a host that records sends under ids the provider does
    not echo."""


class ConvstateError(Exception):
    """Base class of every error the engine reports. Errors change nothing in the engine.

    ``code`` is the engine's stable name of the error (``"unknown_number"``,
    ``"invalid_instant"``, ...), ``kind`` its family (``"not_found"``, ...). One raised by
    ``ShardedEngine.handle``, ``send`` or ``inbound`` also has ``effects``: those the input
    caused before it was refused (a list, empty when none).
    """

    kind: str = "error"

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def __reduce__(self) -> tuple[object, ...]:
        # The instance's attributes go along: a ShardedEngine's refusal carries ``effects``.
        return (type(self), (self.message, self.code), self.__dict__)


class InvalidInputError(ConvstateError, ValueError):
    """Malformed input: a phone number, an instant, an event, a template."""

    kind = "invalid_input"


class NotFoundError(ConvstateError, LookupError):
    """A number, business, template, chat or ticket the engine does not know."""

    kind = "not_found"


class PolicyError(ConvstateError, ValueError):
    """An unknown policy preset or an override that does not fit."""

    kind = "policy"


class SnapshotError(ConvstateError, ValueError):
    """A snapshot that cannot be restored."""

    kind = "snapshot"


class CapacityError(ConvstateError):
    """An internal table reached its capacity."""

    kind = "capacity"


class UnixSecondsWarning(UserWarning):
    """An int instant before 2001-09-09 (0 excepted): an int is unix milliseconds, and unix
    seconds (Meta's webhook ``timestamp``) read as milliseconds are January 1970, accepted
    and wrong. Told once per call site, as Python tells warnings; silence it with
    ``warnings.simplefilter("ignore", convstate.UnixSecondsWarning)``.
    """
