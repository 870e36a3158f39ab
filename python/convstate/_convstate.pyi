"""Type stubs of the native module ``convstate._convstate`` (checked by ``mypy.stubtest``)."""

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar, Optional, Protocol, SupportsIndex, TypeVar, Union, final

from typing_extensions import Buffer

from convstate._types import (
    ChargeCategory,
    FreeReason,
    InboundOutcome,
    Initiator,
    Reason,
    StatusOutcome,
    Verdict,
)

class _Datetime64(Protocol):
    """A numpy ``datetime64`` scalar as the package sees it, numpy not imported: its
    ``dtype`` names the unit and an int64 ``view`` gives the count (any other value with
    these members is refused at runtime)."""

    @property
    def dtype(self) -> Any: ...
    def view(self, dtype: str, /) -> Any: ...
    def __array__(self) -> Any: ...

#: An instant: an aware ``datetime`` (naive ones are refused), int unix milliseconds (never
#: seconds: Meta's webhook ``timestamp`` times 1000; in seconds it is a January 1970 instant,
#: accepted), an RFC 3339 string, or a numpy ``datetime64`` scalar (counted from the unix epoch in its
#: unit and read as UTC, a fraction of a millisecond dropped; ``NaT``, numpy's or pandas'
#: ``pd.NaT``, raises ``InvalidInputError`` naming the argument, a unit of dates
#: ``TypeError``).
_Instant = Union[datetime, int, str, _Datetime64]

_T_co = TypeVar("_T_co", covariant=True)

class _Column(Protocol[_T_co]):
    """A run_batch column: a list, a tuple or any other sized iterable indexed by position,
    such as a numpy array or a pandas Series (which are no ``Sequence`` to a type checker).
    A str, a set or a mapping is refused at runtime."""

    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[_T_co]: ...
    def __getitem__(self, index: int, /) -> Any: ...

class _Array(Protocol):
    """A numpy array as a ``run_batch`` params cell (what ``pd.read_parquet`` gives a list
    column's cells), numpy not imported: read as its ``tolist()`` when it has one
    dimension; one of another shape raises ``TypeError``."""

    @property
    def ndim(self) -> int: ...
    @property
    def __array_interface__(self) -> dict[str, Any]: ...
    def __len__(self) -> int: ...

# run_batch's kinds and at columns: columns, or buffers of ints (bytes, array('q'), numpy
# arrays) read in one go.
_Kinds = Union[_Column[Union[str, int]], Buffer]
_Instants = Union[_Column[_Instant], Buffer]
# run_batch's automated: one bool for every row, or a column of them (None and NaN, pd.NA
# mean False), or a numpy bool array read in one go.
_Automated = Union[bool, _Column[Optional[bool]], Buffer]
#: A duration: a ``timedelta`` of whole milliseconds (a fraction of one raises
#: ``InvalidInputError`` naming the field), int milliseconds, or a string such as ``"10m"``.
_DurationLike = Union[timedelta, int, str]

__version__: str
#: The commit the library was built from (``git rev-parse --short=12 HEAD``, or the
#: ``CONVSTATE_BUILD_COMMIT`` environment variable a packager set), ``"unknown"`` without
#: either: builds of one ``__version__`` tell themselves apart by it.
build_commit: str
__all__ = [
    "BatchResult",
    "Billing",
    "Decision",
    "Engine",
    "ShardedEngine",
    "__version__",
    "_wire_names",
    "build_commit",
    "wire_version",
]

def wire_version() -> int:
    """Version of the JSON wire schema this build speaks."""

def _wire_names() -> dict[str, list[str]]:
    """The engine's wire names of each enum, by the package enum that must hold them
    (private: for the package's tests)."""

@final
class BatchResult:
    """What ``Engine.run_batch`` did: one outcome code per row, and counts.

    Codes are stable (new ones are only appended): ``0`` ``"applied"`` (an inbound row was
    recorded), ``1`` ``"allowed"`` (a send row was recorded, or a check_send row may go
    ahead), then one code per denial reason named as on the wire (``"window_closed"``,
    ``"limit_reached"``, ...), ``"other"`` (19) for a denial reason newer than this table,
    ``"error"`` (20) for a row the engine refused (it changed nothing), and from 21 the
    reasons added since (``"invalid_content"``).
    """

    #: Outcome names indexed by code.
    OUTCOME_NAMES: ClassVar[tuple[str, ...]]
    @property
    def outcomes(self) -> bytes:
        """One code per row (``OUTCOME_NAMES[code]`` names it); ``numpy.frombuffer(...,
        dtype=numpy.uint8)`` reads it without a copy."""
    @property
    def counts(self) -> dict[str, int]:
        """How many rows got each outcome; outcomes no row got are left out."""
    @property
    def effect_counts(self) -> dict[str, int]:
        """The batch's effects, counted by type (``"chat_started"``, ...) and dropped. Empty
        when ``keep_effects=True`` left them queued for ``poll_effect``."""
    @property
    def effects_kept(self) -> bool:
        """Whether the batch's effects were left queued."""
    @property
    def errors(self) -> int:
        """How many rows the engine refused."""
    @property
    def error_codes(self) -> dict[str, int]:
        """Refused rows by the engine's error code (``"unknown_number"``, ...)."""
    @property
    def first_error(self) -> Optional[tuple[int, str, str]]:
        """The first refused row as ``(row, code, message)``, or None."""
    def names(self) -> list[str]:
        """The outcome name of every row, in order."""
    def __len__(self) -> int: ...
    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]: ...

@final
class Billing:
    """What an allowed send costs. Frozen; compares by value."""

    @property
    def charged(self) -> bool:
        """Whether the platform charges for the send."""
    @property
    def category(self) -> Optional[Union[ChargeCategory, str]]:
        """The price category of a charged send, or None when free."""
    @property
    def free_reason(self) -> Optional[Union[FreeReason, str]]:
        """Why a free send is free, or None when charged."""
    @property
    def price(self) -> Optional[Decimal]:
        """The price of a charged send from the policy's rate card, exact, in
        ``currency``; None when free or when the rate card has no price for the contact's
        market (or the policy none)."""
    @property
    def currency(self) -> Optional[str]:
        """The currency of ``price`` (``"USD"``), or None when there is no price."""
    def to_dict(self) -> dict[str, Any]:
        """The billing as a dict of the wire format."""
    def __reduce__(self) -> tuple[Any, tuple[str]]: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Decision:
    """The answer to "may I send this now?". Frozen; compares by value.

    Enum-valued fields hold the raw string when the engine reports a value this version of
    the package does not know.
    """

    @property
    def allowed(self) -> bool:
        """Whether the send may go ahead."""
    @property
    def verdict(self) -> Union[Verdict, str]:
        """``Verdict.ALLOWED`` or ``Verdict.DENIED``."""
    @property
    def reason(self) -> Optional[Reason]:
        """Why the send was denied (``Reason.OTHER`` for a reason this package does not
        know); None when allowed."""
    @property
    def details(self) -> dict[str, Any]:
        """The numbers behind a denial (limits, sizes; instants as aware UTC datetimes,
        durations as ``timedelta``).
        Empty when allowed. Holds the raw ``"reason"`` only when ``reason`` is OTHER."""
    @property
    def billing(self) -> Optional[Billing]:
        """What the send costs, or None when denied."""
    @property
    def initiated_by(self) -> Union[Initiator, str]:
        """``Initiator.CUSTOMER`` (a reply in the window) or ``Initiator.BUSINESS``."""
    @property
    def consumed_limit_slot(self) -> bool:
        """Whether the send took a messaging-limit slot."""
    @property
    def next_action(self) -> Optional[dict[str, Any]]:
        """The suggested next step, e.g. ``{"action": "send_template"}``, or None."""
    @property
    def initiation(self) -> Optional[dict[str, Any]]:
        """For ``initiate``: the opening template and how many messages are held."""
    def to_dict(self) -> dict[str, Any]:
        """The decision as a dict of the wire format (instants as aware datetimes,
        durations as ``timedelta``, a price's ``amount`` as ``decimal.Decimal``)."""
    def to_json(self) -> str:
        """The decision as one JSON object, as the wire format writes it: the line
        ``handle_json`` returns for it, byte for byte (``"type": "decision"`` first)."""
    def __reduce__(self) -> tuple[Any, tuple[str]]: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Engine:
    """The conversation-state engine: feed it what happened, ask it what may be sent.

    It never reads a clock: every call carries its instant (an aware datetime, int unix
    milliseconds, an RFC 3339 str or a numpy ``datetime64`` read as UTC, as ``run_batch``
    reads one, in an argument or a dict event alike; a value of another type, a float or
    None, raises ``TypeError`` naming the argument, and ``InvalidInputError`` naming the field
    in a dict event, as its line would; a bad value ``InvalidInputError``). Inputs are
    decided at the later of their instant and the clock: feed them in time order (sort a
    frame by ``at``), as a send dated before an input already given is decided at the
    clock, not at its own instant. Dicts it returns
    mirror the JSON wire format, with instants (keys ``at``, ``since``, ``until``,
    ``deadline`` and ``*_at``, ``*_since``, ``*_until``, ``*_deadline``, ``*_by``,
    ``*_from``) as aware UTC datetimes, durations (policy lengths, response
    times, a denial's ``margin``) as ``timedelta`` and money (a usage's ``cost``, a
    price's ``amount``) as ``decimal.Decimal``. One engine may be shared
    by threads: calls are serialised by an internal lock. Picklable (through a snapshot).
    Arguments of raw bytes (``restore``, ``from_business_export``, ``import_business``,
    ``process_bytes``) take any bytes-like object: ``bytes``, ``bytearray``, a C-contiguous
    ``memoryview``, ``array.array``; anything else raises ``TypeError`` naming the argument.
    """

    def __new__(
        cls, policy: str = "cloud-2025", policy_overrides: Optional[Mapping[str, Any]] = None
    ) -> Engine:
        """An engine under a policy preset (``classic``, ``cloud-2025``, ``cloud-2026-10``)
        with optional overrides merged over it. Raises ``PolicyError`` (``TypeError`` for
        overrides that are not a mapping)."""
    @property
    def clock(self) -> datetime:
        """The largest instant the engine has seen (aware UTC)."""
    @property
    def policy(self) -> dict[str, Any]:
        """The policy in force."""
    def register_number(
        self,
        number: str,
        *,
        business: str,
        channel: str,
        at: Optional[_Instant] = None,
        provider: Optional[str] = None,
        idle_timeout: Optional[_DurationLike] = None,
        default_template: Optional[Mapping[str, str]] = None,
        phone_number_id: Optional[str] = None,
        timezone: Optional[str] = None,
    ) -> None:
        """Registers (or updates) a number of a business; ``at`` defaults to the clock. A
        number moves to another channel only without live chats or held messages.
        ``phone_number_id`` is the provider's id of the number (Meta's), by which webhooks
        name it. ``timezone`` is the IANA zone the business counts its months in (its
        WhatsApp Business Account's, ``"Asia/Tokyo"``): usage and the monthly free allowance
        reset at its midnight. Set once per business (UTC until then); another zone raises
        ``InvalidInputError``."""
    def register_template(
        self,
        business: str,
        name: str,
        language: str,
        *,
        category: str,
        body: str,
        at: Optional[_Instant] = None,
        status: Optional[str] = None,
        quality: Optional[str] = None,
        header: Optional[str] = None,
        footer: Optional[str] = None,
        buttons: Optional[Iterable[Mapping[str, Any]]] = None,
    ) -> None:
        """Registers a template of a business; ``at`` defaults to the clock."""
    def inbound(
        self,
        number: str,
        contact: Optional[str] = None,
        *,
        at: _Instant,
        kind: str = "text",
        group: Optional[str] = None,
        size: Optional[int] = None,
        message_id: Optional[str] = None,
        referral: bool = False,
        user_id: Optional[str] = None,
    ) -> InboundOutcome:
        """A message or call from a contact (or in a group) received by ``number``.
        Returns ``InboundOutcome.TAKEN``, or ``InboundOutcome.REDELIVERED`` for a message
        the provider delivered again within ``provider.status_memory`` (7 days): do not
        store it twice.

        ``message_id`` is the provider's id of the message: a redelivery of an id already
        seen changes nothing. ``referral`` marks a message from an ad or page button (a free
        entry point where the pricing model has one). ``user_id`` is the sender's
        business-scoped user id when the provider gives it beside the phone number in
        ``contact``: the two then name one contact of the business."""
    def message_status(
        self,
        number: str,
        contact: str,
        *,
        at: _Instant,
        message_id: str,
        status: str,
        errors: Optional[Sequence[int]] = None,
        pricing: Optional[Mapping[str, Any]] = None,
        user_id: Optional[str] = None,
    ) -> StatusOutcome:
        """A delivery status (``"sent"``, ``"delivered"``, ``"read"``, ``"failed"``) of the
        message sent from ``number`` to ``contact`` with ``message_id``. Returns
        ``StatusOutcome.MATCHED``, or ``StatusOutcome.UNMATCHED`` when no send recorded
        under that id is remembered (it changed nothing). ``errors`` are the provider's
        error codes of a failure (131047 closes the window, 131049 holds the contact's
        marketing, ...); ``pricing`` the provider's pricing object; ``user_id`` the
        recipient's business-scoped user id beside the phone number."""
    def check_send(
        self,
        number: str,
        contact: Optional[str] = None,
        *,
        at: _Instant,
        text: Optional[str] = None,
        message: Optional[Mapping[str, Any]] = None,
        group: Optional[str] = None,
        idempotency_key: Optional[str] = None,
        force: bool = False,
        automated: bool = False,
    ) -> Decision:
        """Decides a send without recording anything. Give ``text=`` for a text message or
        ``message=`` with any message of the wire format (templates, media). ``automated``
        is accepted as ``send`` takes it, so that one set of arguments serves both; it
        changes no decision."""
    def send(
        self,
        number: str,
        contact: Optional[str] = None,
        *,
        at: _Instant,
        text: Optional[str] = None,
        message: Optional[Mapping[str, Any]] = None,
        group: Optional[str] = None,
        idempotency_key: Optional[str] = None,
        force: bool = False,
        message_id: Optional[str] = None,
        automated: bool = False,
    ) -> Decision:
        """Decides a send and, when allowed, records it (counters, duplicates, limits).

        ``message_id`` names the sent message for its delivery statuses (``message_status``
        events): an id of your own, given to Meta as ``biz_opaque_callback_data`` too (the
        webhook door then matches statuses by it), or the provider's.

        ``automated=True`` marks a send by automation (an auto-acknowledgement, a bot): it
        is decided and recorded alike but is no agent response (RULES §3), so it answers no
        contact waiting in a live chat or on an email ticket (response times and missed
        chats count agents' replies only). It still counts as activity in a live chat."""
    def initiate(
        self,
        number: str,
        contact: str,
        *,
        at: _Instant,
        text: Optional[str] = None,
        message: Optional[Mapping[str, Any]] = None,
        template: Optional[Mapping[str, Any]] = None,
        idempotency_key: Optional[str] = None,
        message_id: Optional[str] = None,
        automated: bool = False,
    ) -> Decision:
        """Starts a conversation: a template now, the message when the contact answers.
        ``message_id`` is the provider's id of what was sent now, as on ``send``.
        ``automated=True``: started by automation (a bot's follow-up), so what it sends
        answers no waiting contact, as ``send``'s ``automated=True``."""
    def end_chat(
        self,
        number: str,
        contact: str,
        *,
        at: _Instant,
        by: str = "agent",
        status: Optional[str] = None,
    ) -> None:
        """An agent (``by="agent"``) or a rule ends the live chat."""
    def set_ticket_status(
        self, number: str, contact: str, status: str, *, at: _Instant, ticket: Optional[int] = None
    ) -> None:
        """Changes the status of the conversation's ticket.

        ``ticket`` names the ticket meant (its id from ``ticket_opened``): if it is no longer
        the current one, ``NotFoundError`` (code ``ticket_not_current``) is raised and nothing
        changes, so a late change meant for a closed ticket never lands on its successor.
        """
    def opt_in(
        self,
        contact: str,
        *,
        at: _Instant,
        business: Optional[str] = None,
        number: Optional[str] = None,
    ) -> None:
        """Records the contact's opt-in with a business (or the business of ``number``)."""
    def opt_out(
        self,
        contact: str,
        *,
        at: _Instant,
        business: Optional[str] = None,
        number: Optional[str] = None,
    ) -> None:
        """Records that the contact withdrew their opt-in."""
    def change_policy(
        self,
        policy: str,
        *,
        at: Optional[_Instant] = None,
        policy_overrides: Optional[Mapping[str, Any]] = None,
    ) -> None:
        """Goes on under another policy (a preset, with optional overrides) that differs from
        the engine's in pricing alone: the 2026-10-01 era (``"cloud-2025"`` to
        ``"cloud-2026-10"``) or a new rate card, keeping the engine's state. Sends decided
        from ``at`` (default: the clock) on are priced by it. Like any input it moves the
        clock to ``at``: give it in time order with the events around it (given before
        September's events, a change dated October 1 has them decided on October 1). Raises
        ``PolicyError`` for an unknown preset, overrides that do not fit (a value with no
        JSON form included), or a policy that changes another rule; ``TypeError`` for
        overrides that are not a mapping."""
    def tick(self, at: _Instant) -> None:
        """Time passed: fires every timer due at or before ``at``."""
    def poll_timeout(self) -> Optional[datetime]:
        """When ``tick`` should be called next, or None. Never later than the next change a
        timer makes, and sometimes earlier: a wake-up for a chat's idle deadline that later
        activity moved finds nothing due and arms the real one."""
    def conversation(self, number: str, contact: str, *, at: _Instant) -> dict[str, Any]:
        """The state of one conversation at ``at`` (changes nothing): the engine's clock or a
        later instant. The engine keeps no history, so an earlier ``at`` raises
        ``InvalidInputError`` (code ``view_before_clock``) naming both instants; a
        ``query_conversation`` given to ``handle`` reads at the clock instead."""
    def number(self, number: str, *, at: Optional[_Instant] = None) -> dict[str, Any]:
        """A number's registration, quality, flag, restrictions and counters (changes
        nothing): at ``at``, the engine's clock or a later instant (the flag and
        restrictions as they stand then, tick or not; the counters as of the clock), or at
        the clock when ``at`` is None. An earlier ``at`` raises ``InvalidInputError`` (code
        ``view_before_clock``)."""
    def usage(
        self,
        *,
        at: _Instant,
        number: Optional[str] = None,
        business: Optional[str] = None,
        month: Optional[str] = None,
    ) -> dict[str, Any]:
        """A month's usage and charges of one number or of a whole business (give exactly
        one; changes nothing), as ``query_usage`` answers it: ``month`` ``"YYYY-MM"``, or by
        default the month of ``at`` where the business counts its months. Its ``cost`` is a
        ``decimal.Decimal`` (with a rate card)."""
    def limit(self, number: str, *, at: _Instant) -> dict[str, Any]:
        """The messaging limit ``number`` sends under at ``at`` (changes nothing), as
        ``query_limit`` answers it: the level in force, the contacts counted in the moving
        window and when a slot frees, an upgrade due by then shown, tick or not. An ``at``
        before the engine's clock raises ``InvalidInputError`` (code
        ``view_before_clock``)."""
    def template(
        self, business: str, name: str, language: str, *, at: Optional[_Instant] = None
    ) -> dict[str, Any]:
        """A template's status and quality (changes nothing): at ``at``, the engine's clock
        or a later instant (an ended pause shows ``approved``, or ``flagged`` if it kept a
        flag, a passed flag deadline ``disabled``, tick or not), or at the clock when ``at``
        is None. An earlier ``at`` raises ``InvalidInputError`` (code
        ``view_before_clock``)."""
    def handle(
        self, event: Union[Mapping[str, Any], str]
    ) -> Union[Decision, dict[str, Any], InboundOutcome, StatusOutcome, None]:
        """Applies one event of the wire format given as a dict (or a line): any event type.
        Returns a ``Decision`` for sends, a dict for views, an ``InboundOutcome`` for an
        ``inbound`` (as ``inbound`` returns it), a ``StatusOutcome`` for a
        ``message_status`` (``UNMATCHED`` when it matched no recorded send), and None for
        any other acknowledgement. Effects queue up for ``poll_effect``. Raises a
        ``ConvstateError`` subclass, or ``TypeError`` for an event that is neither a mapping
        nor a str (a pandas row: ``handle(row.to_dict())``)."""
    def handle_json(self, line: str) -> list[str]:
        """Applies one wire-format line and returns the result line followed by one line per
        effect, byte for byte as every binding does: the effects it caused, after any that
        earlier typed calls left queued (poll those first to keep each effect with its
        input). Errors become error lines (a ``str`` with no UTF-8 form, a lone surrogate,
        raises Python's ``UnicodeEncodeError`` before the engine sees it)."""
    def handle_webhook(
        self,
        payload: Union[bytes, bytearray, memoryview, str, Mapping[str, Any]],
        received_at: Optional[_Instant] = None,
        waba_businesses: Optional[Mapping[str, str]] = None,
    ) -> list[str]:
        """Applies a Meta Cloud API webhook body (as received, or its decoded JSON object;
        another type raises ``TypeError``) and returns one wire line per payload item
        (``ack`` with ``path`` and ``event``, ``error``, ``unrecognized``, ``skipped``: with
        ``event`` for a message already taken, which the provider delivered again), each
        followed by its effect lines. A body that is not a webhook gives one error line.
        ``received_at`` (default: the engine's clock) is used only for items without a
        timestamp; ``waba_businesses`` maps WABA ids to business names (both non-empty).
        The lines carry the body's own effects only: effects queued by earlier typed calls
        stay queued (``handle_json`` and ``process`` hand them out with their lines), so drain
        ``effects()`` before the call to keep them in the order they happened."""
    def process(self, events: Iterable[Union[str, Mapping[str, Any]]]) -> list[str]:
        """Applies a batch of events (lines or dicts) with the GIL released and returns all
        output lines as wire-format strings: for each input its result line, then its
        effect lines. A dict's int ``at`` that looks like unix seconds warns
        ``UnixSecondsWarning``, as ``handle`` warns of one; a line is read as written. Blank and ``//`` comment lines, and a byte-order mark starting the
        first line (a file opened without ``encoding="utf-8-sig"``), are skipped, as
        ``process_bytes`` skips them; a mark anywhere else gives an error line. An item that cannot be converted raises before anything is applied: one that
        is neither a ``str`` nor a mapping (``None``, ``bytes``) with ``TypeError`` naming
        its index, a mapping holding a value without a JSON form (a NaN, a naive datetime)
        with ``InvalidInputError`` naming its index (``"process: event 57: ..."``); a single ``str``, ``bytes``, ``bytearray`` or ``memoryview`` raises
        ``TypeError`` too (give a whole file's text to ``process_bytes``), and so does a
        DataFrame, which iterates its column names (give its columns to ``run_batch``, or
        its rows as ``df.to_dict("records")``)."""
    def run_batch(
        self,
        kinds: _Kinds,
        at: _Instants,
        numbers: _Column[str],
        contacts: _Column[str],
        texts: Optional[_Column[Optional[str]]] = None,
        *,
        templates: Optional[_Column[Optional[str]]] = None,
        languages: Optional[_Column[Optional[str]]] = None,
        params: Optional[_Column[Optional[Union[Sequence[str], _Array]]]] = None,
        automated: Optional[_Automated] = None,
        keep_effects: bool = False,
    ) -> BatchResult:
        """Applies a table of events given as columns, one row per event, and returns one
        outcome code per row.

        ``kinds``: ``"inbound"`` (a text message from the contact, like ``inbound``),
        ``"send"`` or ``"check_send"`` (like the methods of those names), or the codes 0, 1,
        2; ``bytes``/``bytearray`` (or any buffer of one-byte items) of codes is read in one
        go. ``at``: int unix milliseconds, or any instant the other methods take; an
        ``array.array('q')`` or numpy int64 array of milliseconds is read in one go (fastest),
        a float buffer raises ``TypeError``. A numpy ``datetime64`` array or item (a column's
        ``to_numpy()`` without a time zone), or a pandas Series of such a column
        (``df["at"]``, read as its array), counts from the unix epoch and is read as UTC in
        its unit, a fraction of a millisecond dropped (a tz-aware column's Timestamps are
        aware datetimes; naive datetime objects are refused as everywhere); ``NaT``, numpy's
        or pandas' (``pd.NaT``, a tz-aware column's gap), raises ``ValueError`` naming
        the row, and a unit of dates (``datetime64[D]``, weeks, months, years)
        ``TypeError``. Columns are lists, tuples or other sized
        sequences (numpy arrays, pandas Series); lists and tuples of str are read fastest. A send row carries ``texts[row]``, or a template (a row
        with both sends the template, its text unread): ``templates[row]`` with
        ``languages[row]`` and optional positional ``params[row]``, a sequence of str or a
        one-dimensional numpy array of them (a list column's cell after ``pd.read_parquet``
        or ``.apply(np.array)``), read as its ``tolist()``: an item that is no str, or an
        array of another shape, raises ``TypeError`` naming the row. In ``texts``,
        ``templates``, ``languages`` and ``params``, ``None``, a float NaN (of any numpy float
        type, ``float32`` too) and pandas' ``NA`` all mean missing (an empty cell of a CSV read with pandas); the other columns need a
        value in every row, and a missing one raises ``TypeError`` naming its column and row.
        ``automated``: which send and check_send rows are sent by automation, as ``send``'s
        ``automated=`` (no agent response: they answer no waiting contact); one bool for
        every row, or a column of bools (Python's or numpy's; ``None``, NaN and ``pd.NA``
        mean ``False``), a numpy bool array read in one go; an int raises ``TypeError``.
        Inbound rows ignore it. Other message kinds,
        groups, idempotency keys and the other event types go through ``handle`` or
        ``process_bytes``.

        Every column is read and checked first: a column of the wrong length or an item of
        the wrong type raises ``TypeError``/``ValueError`` naming the column and row, and
        nothing is applied. The rows then run in order with the GIL released and give the
        decisions the one-by-one methods would. A row the engine refuses (unknown number,
        bad phone number, instant out of range whatever its type) gets the ``"error"`` outcome, changes
        nothing, and the batch goes on. The batch's effects are counted by type and dropped
        unless ``keep_effects=True`` leaves them queued for ``poll_effect``; with the
        default, effects still queued from earlier calls raise ``ValueError`` (drain them
        with ``effects()`` first) rather than being dropped unseen."""
    def process_bytes(self, data: Buffer) -> bytes:
        """Applies wire-format lines (UTF-8, one event per line; blank and ``//`` comment
        lines, and a byte-order mark starting the data, skipped as ``convstate replay`` skips them) with
        the GIL released and returns all output lines as one bytes object, each line ending
        in a newline: for each event its result line, then its effect lines, the same lines
        ``process`` returns. Never raises for bad input: a line that does not decode gives
        an error line."""
    def poll_effect(self) -> Optional[dict[str, Any]]:
        """The oldest queued effect (what changed), or None."""
    def effects(self) -> list[dict[str, Any]]:
        """Drains every queued effect, oldest first."""
    def export_business(self, business: str) -> bytes:
        """A business's whole state as bytes, to move it to another engine or node with
        ``import_business``. This engine is not changed. Raises ``NotFoundError``."""
    def import_business(self, data: Buffer) -> None:
        """Adds a business from ``export_business`` bytes. The engines must run the same
        policy, and the business and its numbers must not be here yet; its idempotency keys
        and message ids are its own (a business here may use the same ones), and so are its
        tickets' ids, which may equal tickets of this engine's businesses: key tickets by
        business (or by number and contact) as well. A refused import changes nothing.
        Timers that fell due between the two engines' clocks fire at their own instants:
        their effects queue up for ``poll_effect``, as any input's do."""
    def remove_business(self, business: str) -> None:
        """Drops a business and everything it owns: the last step of moving it (export here,
        import there, remove here). The other businesses decide exactly as before. The engine
        is rebuilt in memory without it (about 0.13 s at a million conversations). Raises
        ``NotFoundError``."""
    def take_business(self, business: str) -> bytes:
        """``export_business`` and ``remove_business`` in one step: the business's export (the
        bytes ``export_business`` gives), and the business gone from this engine. All or
        nothing: a refused take changes nothing. Raises ``NotFoundError``."""
    @staticmethod
    def from_business_export(data: Buffer) -> Engine:
        """A new engine holding only the business of ``export_business`` bytes, under the
        export's policy: the first business of a new node. Raises ``SnapshotError`` for
        damaged bytes."""
    def snapshot(self) -> bytes:
        """The whole engine as bytes (versioned JSON), with the effects still queued (drain
        ``effects()`` first: a copy restored from it, a pickle or ``copy.deepcopy`` included,
        hands them out again)."""
    @staticmethod
    def restore(snapshot: Buffer) -> Engine:
        """An engine from ``snapshot()`` bytes. Raises ``SnapshotError``."""
    def __reduce__(self) -> tuple[Any, tuple[bytes]]: ...
    def __getstate__(self) -> bytes: ...
    def __setstate__(self, state: Buffer) -> None: ...

@final
class ShardedEngine:
    """N engines sharded by business, for hosts that apply inputs from several threads.

    Each business lives whole in one shard (a stable hash of its name), so business-wide
    rules (messaging limits, consent, usage) stay exact however many threads call at once.
    Every call releases the GIL while the core works and locks only the shard its input
    belongs to: threads feeding different businesses run in parallel. Each shard keeps its
    own clock and, like one ``Engine``, expects its inputs in time order (an input older
    than its shard's clock is applied at the clock): feed each shard's businesses from one
    thread (``shard_of_business``). Effects come back from the call that caused them: its
    inputs' effects and those of the timers their instants fired in their shards, which may
    belong to other businesses of a shard. There is no effect queue to poll.
    """

    def __new__(
        cls,
        policy: str = "cloud-2025",
        shards: SupportsIndex = 4,
        policy_overrides: Optional[Mapping[str, Any]] = None,
    ) -> ShardedEngine:
        """``shards`` engines (1 to 4096) under a policy preset, with optional overrides
        merged over it. ``shards`` is an ``int`` or any integer with ``__index__`` (a numpy
        ``int64``), not a ``bool``. Raises ``PolicyError``, ``InvalidInputError`` (a count out
        of range) or ``TypeError`` (a count that is not an integer, overrides that are not a
        mapping)."""
    @property
    def shard_count(self) -> int:
        """How many shards there are."""
    def shard_of_business(self, business: str) -> int:
        """The shard a business lives in, the same in every process with as many shards."""
    def check_send(
        self,
        number: str,
        contact: Optional[str] = None,
        *,
        at: _Instant,
        text: Optional[str] = None,
        message: Optional[Mapping[str, Any]] = None,
        group: Optional[str] = None,
        idempotency_key: Optional[str] = None,
        force: bool = False,
        automated: bool = False,
    ) -> Decision:
        """As ``Engine.check_send``, in the number's shard, with the GIL released: the
        ``Decision`` a send would get, recording nothing (so no effects). Raises as
        ``Engine.check_send`` raises."""
    def handle(
        self, event: Union[Mapping[str, Any], str]
    ) -> tuple[
        Union[Decision, dict[str, Any], InboundOutcome, StatusOutcome, None],
        list[dict[str, Any]],
    ]:
        """As ``Engine.handle``, in the input's shard with the GIL released: its result (as
        ``Engine.handle`` returns it) and the effects it caused. A ``tick`` or a
        ``change_policy`` reaches every shard. Raises as ``Engine.handle`` raises; a
        ``ConvstateError`` from it has ``effects``, those the input caused before it was
        refused (timers its instant fired; an empty list when none)."""
    def inbound(
        self,
        number: str,
        contact: Optional[str] = None,
        *,
        at: _Instant,
        kind: str = "text",
        group: Optional[str] = None,
        size: Optional[int] = None,
        message_id: Optional[str] = None,
        referral: bool = False,
        user_id: Optional[str] = None,
    ) -> tuple[InboundOutcome, list[dict[str, Any]]]:
        """As ``Engine.inbound``, in the number's shard with the GIL released: its
        ``InboundOutcome`` and the effects it caused. Raises as ``handle`` raises."""
    def message_status(
        self,
        number: str,
        contact: str,
        *,
        at: _Instant,
        message_id: str,
        status: str,
        errors: Optional[Sequence[int]] = None,
        pricing: Optional[Mapping[str, Any]] = None,
        user_id: Optional[str] = None,
    ) -> tuple[StatusOutcome, list[dict[str, Any]]]:
        """As ``Engine.message_status``, in the number's shard with the GIL released: its
        ``StatusOutcome`` and the effects it caused. Raises as ``handle`` raises."""
    def send(
        self,
        number: str,
        contact: Optional[str] = None,
        *,
        at: _Instant,
        text: Optional[str] = None,
        message: Optional[Mapping[str, Any]] = None,
        group: Optional[str] = None,
        idempotency_key: Optional[str] = None,
        force: bool = False,
        message_id: Optional[str] = None,
        automated: bool = False,
    ) -> tuple[Decision, list[dict[str, Any]]]:
        """As ``Engine.send``, in the number's shard with the GIL released: the ``Decision``
        and the effects the send caused. Raises as ``handle`` raises."""
    def process(self, events: Iterable[Union[str, Mapping[str, Any]]]) -> list[str]:
        """As ``Engine.process``: every output line, for each input its result line, then
        its effect lines. A ``tick`` reaches every shard."""
    def process_bytes(self, data: Buffer) -> bytes:
        """As ``Engine.process_bytes``: wire-format lines in, every output line out."""
    def handle_webhook(
        self,
        payload: Union[bytes, bytearray, memoryview, str, Mapping[str, Any]],
        received_at: Optional[_Instant] = None,
        waba_businesses: Optional[Mapping[str, str]] = None,
    ) -> list[str]:
        """As ``Engine.handle_webhook``, for threads sharing the engine: the payload is read
        against the shards (a number found by its ``phone_number_id`` in whichever shard
        holds it; a WABA's business as ``Engine.handle_webhook`` finds it, across the
        shards) and each item is applied in its shard, followed by the effect lines it
        caused there. Like every input of a sharded engine, bodies give one engine's lines
        when each shard gets its inputs in time order (see the class). ``received_at``
        defaults to the latest clock of the shards."""
    def run_batch(
        self,
        kinds: _Kinds,
        at: _Instants,
        numbers: _Column[str],
        contacts: _Column[str],
        texts: Optional[_Column[Optional[str]]] = None,
        *,
        templates: Optional[_Column[Optional[str]]] = None,
        languages: Optional[_Column[Optional[str]]] = None,
        params: Optional[_Column[Optional[Union[Sequence[str], _Array]]]] = None,
        automated: Optional[_Automated] = None,
    ) -> BatchResult:
        """As ``Engine.run_batch``, each row in its number's shard, the GIL released while
        the rows run. The effects are counted in ``effect_counts`` and dropped (use
        ``process`` to receive them)."""
    def tick(self, at: _Instant) -> list[dict[str, Any]]:
        """Time passed: fires every timer due at or before ``at`` in every shard and returns
        the effects they caused."""
    def poll_timeout(self) -> Optional[datetime]:
        """When ``tick`` should be called next (the earliest over the shards), or None."""
    def conversation(self, number: str, contact: str, *, at: _Instant) -> dict[str, Any]:
        """As ``Engine.conversation``, in the number's shard: at ``at``, that shard's clock or
        a later instant (an earlier one raises ``InvalidInputError``, code
        ``view_before_clock``)."""
    def number(self, number: str, *, at: Optional[_Instant] = None) -> dict[str, Any]:
        """As ``Engine.number``, in the number's shard: at ``at``, or as of that shard's
        clock when ``at`` is None (its counters are as of that clock either way)."""
    def limit(self, number: str, *, at: _Instant) -> dict[str, Any]:
        """As ``Engine.limit``, in the number's shard."""
    def usage(
        self,
        *,
        at: _Instant,
        number: Optional[str] = None,
        business: Optional[str] = None,
        month: Optional[str] = None,
    ) -> dict[str, Any]:
        """As ``Engine.usage``, in the shard of the number or business."""
    def template(
        self, business: str, name: str, language: str, *, at: Optional[_Instant] = None
    ) -> dict[str, Any]:
        """As ``Engine.template``, in the business's shard: at ``at``, or as of that
        shard's clock when ``at`` is None."""
    def export_business(self, business: str) -> bytes:
        """A business's whole state as bytes, to move it to another engine or node with
        ``import_business``. This engine is not changed. Raises ``NotFoundError``."""
    def import_business(self, data: Buffer) -> list[dict[str, Any]]:
        """Adds a business from ``export_business`` bytes to its shard, and returns the
        effects it caused: timers of the shard or of the business that fell due between the
        two engines' clocks, fired at their own instants. The engines must run the same
        policy, and the business and its numbers must not be here yet; its idempotency keys
        and message ids are its own (a business here may use the same ones), and so are its
        tickets' ids, which may equal tickets of the shard's other businesses (ticket ids
        count per shard): key tickets by business (or by number and contact) as well. A
        refused import changes nothing."""
    def remove_business(self, business: str) -> None:
        """Drops a business and everything it owns from its shard, and its numbers' routes:
        the last step of moving it. While other threads call the engine, move a business out
        with ``take_business`` instead. Raises ``NotFoundError``."""
    def take_business(self, business: str) -> bytes:
        """``export_business`` and ``remove_business`` in one step, under one hold of the
        routing table and the business's shard: every input another thread applies to the
        business is either in the export or, applied after it, refused as an unknown number
        or business (between a separate export and removal it would be in neither; a
        registration naming the business creates it anew: route those to its new node). All or
        nothing: a refused take changes nothing. Raises ``NotFoundError``."""
    def snapshot(self) -> bytes:
        """Every shard's state as bytes: a header line, then one snapshot line per shard, each
        shard written under its own lock while other threads' inputs go on (their
        registrations, imports and removals wait for it: a number moved meanwhile would be
        written in two shards)."""
    @staticmethod
    def restore(snapshot: Buffer) -> ShardedEngine:
        """A sharded engine from ``snapshot()`` bytes, with as many shards as it had. Raises
        ``SnapshotError`` (``PolicyError`` for a shard whose policy does not validate)."""
    def __reduce__(self) -> tuple[Any, tuple[bytes]]: ...
