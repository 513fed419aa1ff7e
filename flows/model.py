"""What a journey is: triggers, steps, waits and the journey itself, as immutable values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from enum import StrEnum
from functools import cached_property
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from nlu import Vocabulary

if TYPE_CHECKING:
    from flows.event_data import DataField

# The funnel a contact moves through; a step may declare which stage it belongs to.
STAGES: tuple[str, ...] = ("awareness", "consideration", "purchase", "post_purchase", "loyalty")

# Wait branch keys that are not intents.
TIMEOUT = "timeout"
OTHER = "other"
CLICKED = "clicked"  # a click on a tracked link the run's journey sent

# Contact attributes every template may use without declaring them in `fields:`.
CONTACT_ATTRIBUTES: frozenset[str] = frozenset({"phone", "language", "timezone", "stage", "tags"})

# A message: one text, or texts by language code ({"en": ..., "es": ...}).
Text = str | Mapping[str, str]


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


class JourneyKind(StrEnum):
    """Whether a journey's messages are transactional or marketing (quiet hours + caps)."""

    TRANSACTIONAL = "transactional"
    MARKETING = "marketing"


class QuietHours(StrEnum):
    """Whether a journey's messages wait out the recipient's quiet hours."""

    RESPECT = "respect"
    IGNORE = "ignore"


@dataclass(frozen=True)
class Conversion:
    """What counts as a journey's conversion, and how long a message can claim one.

    A business event named in `events` is credited, last touch, to the journey message
    the contact clicked within `click_window`, else received within `receipt_window`.
    """

    events: frozenset[str] = frozenset({"order_placed"})
    click_window: timedelta = timedelta(days=5)
    receipt_window: timedelta = timedelta(hours=12)


class WhenCapped(StrEnum):
    """What a marketing message does when the contact's frequency cap is full."""

    DEFER = "defer"  # wait for room
    SKIP = "skip"  # never sent; the run moves on


class Entry(StrEnum):
    """What starting a journey does when the contact already has open runs."""

    SKIP = "skip"  # already in this journey: do not start again
    RESTART = "restart"  # end the open run of this journey and start afresh
    INTERRUPT = "interrupt"  # end every open run of other journeys, then start


@dataclass(frozen=True)
class Segment:
    """Which contacts a scheduled trigger picks: every condition given must hold."""

    stage: str | None = None
    tags: tuple[str, ...] = ()
    inactive_for: timedelta | None = None
    fields: Mapping[str, Any] = field(default_factory=_empty)


@dataclass(frozen=True)
class Trigger:
    """One way a journey starts: kind is event, keyword, opt_in, date, schedule or click."""

    kind: str
    # event: {name}; keyword: {words} (upper case); opt_in: {};
    # date: {field, source ("event", "contact" or "any"), offset (timedelta), event (or None)};
    # schedule: {every (timedelta), at (time or None), segment (Segment)};
    # click: {journey, step} (a link that step sent) or {url} (any tracked link to it)
    params: Mapping[str, Any]
    line: int = 0


@dataclass(frozen=True)
class RatingRange:
    """A wait branch taken by a rating within [low, high] (either end may be open)."""

    low: int | None
    high: int | None
    target: str
    label: str

    def matches(self, value: int) -> bool:
        """Tell whether a rating value falls in this range."""
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)


@dataclass(frozen=True)
class Reminder:
    """A message sent while a wait still has no reply, `after` from the wait's start."""

    after: timedelta
    send: Text
    line: int


@dataclass(frozen=True)
class Wait:
    """Pause a run until a reply or a timeout picks the next step."""

    timeout: timedelta | None
    # intent name, "timeout" or "other" -> step id
    on: Mapping[str, str]
    retry: Text | None
    line: int
    ratings: tuple[RatingRange, ...] = ()
    # upper-case word -> step id, for replies that are exactly that word
    keywords: Mapping[str, str] = field(default_factory=_empty)
    reminders: tuple[Reminder, ...] = ()
    # `timeout: never`: the journey author chose to wait for as long as it takes
    never: bool = False


@dataclass(frozen=True)
class Delay:
    """Pause a run for a while, until a local time, or relative to a date field."""

    # "for" (duration), "until" (at), "before" / "after" (field, duration)
    mode: str
    line: int
    duration: timedelta = timedelta(0)
    at: time | None = None
    # "event.appointment_at" or "contact.last_order_at"
    field: str | None = None


@dataclass(frozen=True)
class Condition:
    """One branch rule: go to target when the expression holds (None means else)."""

    expression: str | None
    target: str
    line: int


@dataclass(frozen=True)
class Edge:
    """A way out of a step, for validation and drawing."""

    label: str
    target: str
    # next, delay, action, reply, keyword, rating, timeout, branch, split
    kind: str
    # what the file names it by: the intent, word, range, condition or variant
    key: str


@dataclass(frozen=True)
class Step:
    """One step of a journey: what to do when a run arrives here, and where to go next."""

    id: str
    line: int
    stage: str | None = None
    send: Text | None = None
    set: Mapping[str, Any] = field(default_factory=_empty)
    goal: str | None = None
    handoff: str | None = None
    wait: Wait | None = None
    consent: str | None = None
    next: str | None = None
    end: bool = False
    kind: JourneyKind | None = None
    tag: tuple[str, ...] = ()
    untag: tuple[str, ...] = ()
    delay: Delay | None = None
    branch: tuple[Condition, ...] = ()
    split: Mapping[str, int] = field(default_factory=_empty)
    action: str | None = None
    start: str | None = None
    start_data: Mapping[str, Any] = field(default_factory=_empty)
    # the step's own sending policy; None: the journey's
    quiet_hours: QuietHours | None = None
    when_capped: WhenCapped | None = None

    @property
    def pauses(self) -> bool:
        """Tell whether a run stops at this step for a reply, a time or an action."""
        return self.wait is not None or self.delay is not None or self.action is not None

    def edges(self) -> tuple[Edge, ...]:
        """Return every way out of this step, labelled, in reading order."""
        out: list[Edge] = []
        if self.wait is not None:
            wait = self.wait
            for word, target in wait.keywords.items():
                out.append(Edge(f"reply {word}", target, "keyword", word))
            for rating in wait.ratings:
                out.append(Edge(f"rating {rating.label}", rating.target, "rating", rating.label))
            for name, target in wait.on.items():
                kind = "timeout" if name == TIMEOUT else "reply"
                out.append(Edge(name, target, kind, name))
        for condition in self.branch:
            key = "else" if condition.expression is None else condition.expression
            label = key if condition.expression is None else f"if {key}"
            out.append(Edge(label, condition.target, "branch", key))
        total = sum(self.split.values())
        for variant, weight in self.split.items():
            share = f"{weight * 100 / total:.4g}%" if total else "0%"
            out.append(Edge(share, variant, "split", variant))
        if self.next is not None and not self.end:
            if self.delay is not None:
                out.append(Edge(describe_delay(self.delay), self.next, "delay", "next"))
            elif self.action is not None:
                out.append(Edge(f"after {self.action}", self.next, "action", "next"))
            else:
                out.append(Edge("next", self.next, "next", "next"))
        return tuple(out)


def describe_delay(delay: Delay) -> str:
    """Return a delay in words: "for 2h", "until 09:00", "2h before event.appointment_at"."""
    if delay.mode == "for":
        return f"for {format_duration(delay.duration)}"
    if delay.mode == "until":
        return f"until {delay.at:%H:%M}" if delay.at else "until"
    if not delay.duration:
        return f"at {delay.field}"
    return f"{format_duration(delay.duration)} {delay.mode} {delay.field}"


def format_duration(value: timedelta) -> str:
    """Write a duration the way journey files do: 1d, 2h30m, 45s."""
    seconds = int(abs(value.total_seconds()))
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    text = "".join(parts) or "0s"
    return f"-{text}" if value < timedelta(0) else text


@dataclass(frozen=True)
class Journey:
    """A named sequence of steps started by a trigger."""

    id: str
    name: str
    kind: JourneyKind
    triggers: tuple[Trigger, ...]
    steps: tuple[Step, ...]
    path: str
    language: str = "en"
    entry: Entry = Entry.SKIP
    exit_events: frozenset[str] = frozenset()
    # contact/event fields the journey expects ("contact.first_name"); None when undeclared
    fields: frozenset[str] | None = None
    # "contact.first_name" -> what to show when the field is missing
    defaults: Mapping[str, Any] = field(default_factory=_empty)
    # the journey's own keywords and example replies per intent, for nlu.parse
    vocabulary: Vocabulary = field(default_factory=Vocabulary)
    # the event data it takes, by name (`event_data:`); None when undeclared: nothing checked
    event_data: Mapping[str, DataField] | None = None
    # event data fields naming what a run is about (`key:`): the first one present counts
    key: tuple[str, ...] = ()
    # None: not said, the bot decides by kind (marketing waits out quiet hours)
    quiet_hours: QuietHours | None = None
    when_capped: WhenCapped = WhenCapped.DEFER
    conversion: Conversion = Conversion()
    # send each http(s) link in its messages as a tracked short link (`track_links: false`
    # sends them as written)
    track_links: bool = True
    _index: Mapping[str, Step] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", MappingProxyType({s.id: s for s in self.steps}))

    def kind_of(self, step: Step) -> JourneyKind:
        """Return the kind of a step's messages: its own, else the journey's."""
        return step.kind or self.kind

    def quiet_hours_of(self, step: Step) -> QuietHours | None:
        """Return the quiet hours policy said for a step's messages, None when neither says."""
        return step.quiet_hours or self.quiet_hours

    def when_capped_of(self, step: Step) -> WhenCapped:
        """Return what a step's messages do when the frequency cap is full."""
        return step.when_capped or self.when_capped

    def step(self, step_id: str) -> Step:
        """Return the step with this id (KeyError if the journey has none)."""
        try:
            return self._index[step_id]
        except KeyError:
            raise KeyError(f"journey {self.id!r} has no step {step_id!r}") from None

    def has_step(self, step_id: str) -> bool:
        """Tell whether the journey has a step with this id."""
        return step_id in self._index

    @property
    def first(self) -> Step:
        """Return the step every run starts at."""
        return self.steps[0]

    @property
    def vocabulary_spec(self) -> Mapping[str, Mapping[str, tuple[str, ...]]]:
        """Return the `nlu:` mapping as {"keywords": {...}, "examples": {...}}."""
        return {"keywords": self.vocabulary.keywords, "examples": self.vocabulary.examples}

    @property
    def trigger_event(self) -> str | None:
        """Return the first API event that starts this journey, if any."""
        return next(iter(self.trigger_events), None)

    @cached_property
    def trigger_events(self) -> tuple[str, ...]:
        """Return every API event that starts this journey, in file order."""
        return tuple(t.params["name"] for t in self.triggers if t.kind == "event")

    @cached_property
    def trigger_keywords(self) -> frozenset[str]:
        """Return the upper-case words that start this journey when texted alone."""
        return frozenset(w for t in self.triggers if t.kind == "keyword" for w in t.params["words"])

    def triggers_of(self, kind: str) -> tuple[Trigger, ...]:
        """Return the triggers of one kind (event, keyword, opt_in, date, schedule)."""
        return tuple(t for t in self.triggers if t.kind == kind)
