"""What the sidebar shows, as plain Python: the call's state, fed by pipeline events.

The sidebar (``gui/``) is a thin Qt view over ``AssistModel``; this module never imports Qt, so
all of its behaviour is tested without a display. The model runs on **call time** (seconds from
the start of the call, the ``t_s`` of the events): each event advances it to its own time, and
the view calls ``advance(now_s)`` between events so cards fade and held cards come out. The same
call therefore gives the same cards whether it is live, replayed at 1×, 4× or as fast as possible.

Parts:

* ``AttentionBudget`` - which nudges become cards, when: at most ``max_visible`` at once, a
  global rate limit (``min_gap_s`` between new cards, ``max_per_minute``), higher severity
  first, nothing new while the agent is mid-sentence unless the nudge is urgent, or early
  (about the words being said, ``rules.early``) and at least ``early_while_speaking``.
  Early nudges: the final nudge that confirms one updates its card in place (no second card);
  a ``Withdrawn`` one leaves at once, without going to the history.
* ``AssistModel`` - cards (shown, held, history), snoozes, the promise list, the customer's
  tone, the transcript, component status (microphone, customer audio, recognizer, rules) and
  the call clock. Views ``subscribe`` to topics ("cards", "promises", ...).
* ``FeedbackLog`` - "helpful"/"wrong" verdicts as JSONL in the user's data folder, with the
  nudge's evidence and the turns around it, ready to become a rule's ``quiet`` example.
"""

from __future__ import annotations

import json
import os
import time
from collections import deque
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Literal

from .errors import OutputError
from .types import (
    SEVERITIES,
    CallCoaching,
    CallSummary,
    Component,
    DeadAir,
    Event,
    Evidence,
    Nudge,
    Partial,
    RecordItem,
    Severity,
    SpeechActivity,
    Speaker,
    Status,
    TalkOver,
    ToneChange,
    ToneEstimate,
    TurnRevision,
    Utterance,
    Withdrawn,
)
from .userdirs import data_dir

SEVERITY_RANK = {level: rank for rank, level in enumerate(SEVERITIES)}
PROMISE_LIST = "promises"

# Topics a view can subscribe to.
TOPICS = ("cards", "promises", "tone", "transcript", "status", "call", "coaching")


@dataclass(frozen=True)
class BudgetConfig:
    """How much of the agent's attention the sidebar may take (all configurable in Settings)."""

    max_visible: int = 3  # cards on screen at once
    min_gap_s: float = 4.0  # call seconds between two new cards
    max_per_minute: int = 4  # new cards in any 60 s of the call
    hold_while_speaking: bool = True  # no new card while the agent is mid-sentence...
    urgent_severity: Severity | None = "high"  # ...unless its severity is at least this (None: never)
    # ...or it is an early nudge about the words being said (a live caption) of at least this
    # severity: the moment to rephrase is now, not after the sentence (None: early ones wait too)
    early_while_speaking: Severity | None = "medium"
    card_lifetime_s: float = 40.0  # a shown card fades into the history after this long
    max_wait_s: float = 30.0  # a held card older than this is no longer timely: history, unseen
    history_size: int = 12  # faded cards kept in the "earlier" list

    def __post_init__(self) -> None:
        if self.max_visible < 1:
            raise ValueError("max_visible must be at least 1")
        if self.max_per_minute < 1:
            raise ValueError("max_per_minute must be at least 1")
        for name in ("min_gap_s", "card_lifetime_s", "max_wait_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        for name in ("urgent_severity", "early_while_speaking"):
            value = getattr(self, name)
            if value is not None and value not in SEVERITY_RANK:
                raise ValueError(f"{name} must be one of {', '.join(SEVERITY_RANK)} or None")

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> "BudgetConfig":
        """Build from saved settings (strings allowed); unknown or unreadable keys keep their default."""
        out: dict[str, Any] = {}
        defaults = cls()
        for f in fields(cls):
            if f.name not in values or values[f.name] is None:
                continue
            raw = values[f.name]
            default = getattr(defaults, f.name)
            try:
                if isinstance(default, bool):
                    out[f.name] = raw if isinstance(raw, bool) else str(raw).lower() in ("1", "true", "yes", "on")
                elif isinstance(default, int):
                    out[f.name] = int(raw)
                elif isinstance(default, float):
                    out[f.name] = float(raw)
                else:
                    out[f.name] = None if str(raw).lower() in ("", "none", "never") else str(raw)
            except (TypeError, ValueError):
                continue
        try:
            return cls(**out)
        except ValueError:
            return defaults

    def to_mapping(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


CardState = Literal["held", "shown", "history"]
Verdict = Literal["helpful", "wrong"]


MOMENT_S = 2.0  # nudges about one utterance that fire this close together share a card


def nudge_key(nudge: Nudge) -> tuple[str, float, int]:
    """One nudge of a call, the same when the call is replayed (a QA seek)."""
    return (nudge.rule, nudge.t_s, nudge.utterance_index)


def nudge_rank(nudge: Nudge) -> tuple[int, int, float]:
    """Sort key, highest first: severity, then priority, then the earliest."""
    return (SEVERITY_RANK.get(nudge.severity, 0), nudge.priority, -nudge.t_s)


@dataclass
class Card:
    """One moment on its way through the sidebar: its leading nudge, and the other nudges about
    the same utterance (``also``, highest first), shown as lines under the lead."""

    id: int
    nudge: Nudge
    state: CardState = "held"
    shown_at_s: float | None = None
    ended_at_s: float | None = None
    end_reason: str = ""  # faded, missed (held too long), dismissed, snoozed, displaced, call ended
    verdict: Verdict | None = None
    also: list[Nudge] = field(default_factory=list)

    @property
    def rank(self) -> tuple[int, int, float]:
        """Sort key, highest first: the leading nudge's severity, then priority, then the earliest."""
        return nudge_rank(self.nudge)

    @property
    def nudges(self) -> list[Nudge]:
        """Every nudge of the card, the lead first."""
        return [self.nudge, *self.also]

    def is_same_moment(self, nudge: Nudge) -> bool:
        lead = self.nudge
        if nudge.early or lead.early:  # early nudges of one open utterance (no index yet) share a card
            return (
                nudge.early
                and lead.early
                and bool(nudge.evidence)
                and bool(lead.evidence)
                and nudge.evidence[0].speaker is lead.evidence[0].speaker
                and nudge.evidence[0].start_s == lead.evidence[0].start_s
            )
        return (
            nudge.utterance_index >= 0
            and nudge.utterance_index == lead.utterance_index
            and abs(nudge.t_s - lead.t_s) <= MOMENT_S
        )

    def holds_early(self, early_id: int) -> bool:
        return any(n.early_id == early_id for n in self.nudges)

    def settle_early(self, early_id: int, final: Nudge | None) -> bool:
        """The early nudge ``early_id`` is confirmed by ``final`` (it takes its place) or
        withdrawn (``final`` None); False when the card has no nudge left."""
        nudges = self.nudges
        at = next(i for i, n in enumerate(nudges) if n.early_id == early_id)
        if final is None:
            del nudges[at]
        else:
            nudges[at] = final
        if nudges:
            ranked = sorted(nudges, key=nudge_rank, reverse=True) if final is not None else nudges
            self.nudge, self.also = ranked[0], ranked[1:]
        return bool(nudges)

    def merge(self, nudge: Nudge) -> None:
        """Add a nudge about the same moment: the highest severity leads, the others follow."""
        ranked = sorted([*self.nudges, nudge], key=nudge_rank, reverse=True)
        self.nudge, self.also = ranked[0], ranked[1:]

    def drop_rule(self, rule: str) -> bool:
        """Remove the nudges of ``rule``; False when none is left (the card goes)."""
        left = [n for n in self.nudges if n.rule != rule]
        if left:
            self.nudge, self.also = left[0], left[1:]
        return bool(left)

    @property
    def rewrite(self) -> str | None:
        """The card's rewrite: offered when one rewrite is on the card and it keeps none of the
        words another nudge of the card flags (two rewrites of one sentence are not combined)."""
        rewrites = {n.rewrite for n in self.nudges if n.rewrite}
        if len(rewrites) != 1:
            return None
        (rewrite,) = rewrites
        low = rewrite.lower()
        for n in self.nudges:
            if n.rewrite:
                continue
            for ev in n.evidence:
                if any(m and m.lower() in low for m in ev.matched):
                    return None
        return rewrite

    @property
    def quoted(self) -> Evidence | None:
        return self.nudge.quoted

    @property
    def evidence_text(self) -> str:
        """The words the card quotes (the rule's ``quote``: the trigger's or the reply's), as said."""
        ev = self.nudge.quoted
        return ev.text if ev else ""

    @property
    def evidence_speaker(self) -> Speaker | None:
        ev = self.nudge.quoted
        return ev.speaker if ev else None


class AttentionBudget:
    """Decides when held nudges become visible cards (see ``BudgetConfig``)."""

    def __init__(self, config: BudgetConfig | None = None) -> None:
        self.config = config or BudgetConfig()
        self.shown_times: deque[float] = deque()

    def reset(self) -> None:
        self.shown_times.clear()

    def is_urgent(self, card: Card) -> bool:
        urgent = self.config.urgent_severity
        return urgent is not None and SEVERITY_RANK.get(card.nudge.severity, 0) >= SEVERITY_RANK[urgent]

    def may_interrupt(self, card: Card) -> bool:
        """Whether the card may show while the agent is mid-sentence: urgent, or an early nudge
        (about the words being said) of at least ``early_while_speaking``."""
        if self.is_urgent(card):
            return True
        early = self.config.early_while_speaking
        return (
            early is not None and card.nudge.early and SEVERITY_RANK.get(card.nudge.severity, 0) >= SEVERITY_RANK[early]
        )

    def may_show_at(self, now_s: float) -> bool:
        """Whether the global rate limit lets a new card out at ``now_s``."""
        cfg = self.config
        while self.shown_times and self.shown_times[0] <= now_s - 60.0:
            self.shown_times.popleft()
        if len(self.shown_times) >= cfg.max_per_minute:
            return False
        return not self.shown_times or now_s - self.shown_times[-1] >= cfg.min_gap_s

    def next_opening_s(self) -> float | None:
        """The earliest call time at which the rate limit could let a card out (None: now)."""
        cfg = self.config
        if not self.shown_times:
            return None
        t = self.shown_times[-1] + cfg.min_gap_s
        if len(self.shown_times) >= cfg.max_per_minute:
            t = max(t, self.shown_times[-cfg.max_per_minute] + 60.0)
        return t

    def select(
        self, held: list[Card], shown: list[Card], now_s: float, agent_speaking: bool
    ) -> tuple[Card | None, Card | None]:
        """The next card to show now, and a shown card it displaces (or None), if any."""
        if not held or not self.may_show_at(now_s):
            return None, None
        for card in sorted(held, key=lambda c: c.rank, reverse=True):
            if agent_speaking and self.config.hold_while_speaking and not self.may_interrupt(card):
                continue
            if len(shown) < self.config.max_visible:
                return card, None
            weakest = min(shown, key=lambda c: c.rank)
            if SEVERITY_RANK.get(card.nudge.severity, 0) > SEVERITY_RANK.get(weakest.nudge.severity, 0):
                return card, weakest  # higher severity first: the weakest card makes room
            return None, None  # the best candidate cannot get in; weaker ones cannot either
        return None, None

    def record_shown(self, now_s: float) -> None:
        self.shown_times.append(now_s)


@dataclass(frozen=True)
class ComponentStatus:
    level: str  # "ok", "info", "warning", "error", "off"
    message: str


# Status rows of the sidebar (types.Component).
COMPONENTS: tuple[Component, ...] = ("microphone", "customer", "recognizer", "rules")
COMPONENT_LABELS = {
    "microphone": "Microphone",
    "customer": "Customer audio",
    "recognizer": "Recognizer",
    "rules": "Rules",
}
SIDE_COMPONENTS: dict[Speaker, Component] = {Speaker.AGENT: "microphone", Speaker.CUSTOMER: "customer"}


def components_of(status: Status) -> list[Component]:
    """The status rows a ``Status`` event updates: its component, else the rows of the sides it
    names (live capture's device statuses); none: it is a notice for the call."""
    if status.component:
        return [status.component]
    return [SIDE_COMPONENTS[s] for s in status.speakers]


@dataclass(frozen=True)
class Rewind:
    """Playback jumped to ``t_s``: forget the call's state and replay ``events`` (all those up to
    ``t_s``, in order) at once, so the state is the call's at ``t_s``."""

    t_s: float
    events: tuple[object, ...] = ()


class FeedbackLog:
    """Appends one JSON line per verdict; the file is created on the first verdict."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def default(cls) -> "FeedbackLog":
        return cls(data_dir() / "feedback.jsonl")

    def write(self, record: dict[str, Any]) -> None:
        """Append one line, whole or not at all: a write the disk had room for only part of is
        cut off again (a broken line would also break the next verdict appended to it)."""
        data = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
            try:
                start = os.fstat(fd).st_size
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view) :]
                except OSError:
                    try:
                        os.ftruncate(fd, start)
                    except OSError:
                        pass
                    raise
            finally:
                os.close(fd)
        except OSError as exc:
            raise OutputError(
                f"cannot write feedback to {self.path}: {exc.strerror or exc}",
                "check the folder is writable (or set RAPPORT_ASSIST_DATA)",
            ) from None


def event_time(event: object) -> float | None:
    """When an event happens on the call timeline (an utterance: when it ends)."""
    if isinstance(event, Utterance):
        return event.end_s
    if isinstance(event, (Nudge, RecordItem, DeadAir, TalkOver, ToneChange, SpeechActivity, Rewind)):
        return event.t_s
    if isinstance(event, Status):
        return event.t_s
    if isinstance(event, CallSummary):
        return event.duration_s
    t = getattr(event, "t_s", None)  # e.g. live capture's clock ticks
    return float(t) if isinstance(t, (int, float)) else None


Listener = Callable[[str], None]
TRANSCRIPT_KEEP = 400  # utterances kept for the transcript view and feedback context
CONTEXT_TURNS = 6  # turns before the nudge's utterance kept with feedback


class AssistModel:
    """The sidebar's state for one call at a time; feed it events with ``on_event``."""

    def __init__(
        self,
        budget: BudgetConfig | None = None,
        feedback_log: FeedbackLog | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.budget = AttentionBudget(budget)
        self.feedback_log = feedback_log
        self._wall_clock = wall_clock
        self._listeners: list[Listener] = []
        self.status: dict[str, ComponentStatus] = {c: ComponentStatus("off", "not started") for c in COMPONENTS}
        self.rules_error: str = ""  # a rule file error (file:line) while the last good rules run
        self.call_label = ""
        self.mode = "idle"  # idle, live, qa
        self._next_id = 1
        self.reset_call()

    # -- subscriptions ---------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        """``listener(topic)`` is called after a change; topics are in ``TOPICS``."""
        self._listeners.append(listener)

    def _notify(self, *topics: str) -> None:
        for topic in topics:
            for listener in list(self._listeners):
                listener(topic)

    # -- the call --------------------------------------------------------------------------
    def reset_call(self) -> None:
        """Forget the call (cards, snoozes, promises, tone, transcript); keep component status.
        (A QA seek, ``Rewind``, keeps the snoozes and the verdicts given: it is the same call.)"""
        self.now_s = 0.0
        self.active = False
        self.ended = False
        self.cards: dict[int, Card] = {}
        self.history: deque[Card] = deque(maxlen=self.budget.config.history_size)
        self.snoozed: set[str] = set()
        self.snoozed_count = 0
        self.hidden_experimental = 0
        self.withdrawn = 0  # early nudges withdrawn (their cards left without a trace)
        # verdicts given, by the nudge judged (``nudge_key``): kept through a QA seek (``Rewind``)
        self.verdicts: dict[tuple[str, float, int], Verdict] = {}
        self.promises: list[RecordItem] = []
        self.customer_tone: ToneEstimate | None = None
        self.transcript: deque[Utterance] = deque(maxlen=TRANSCRIPT_KEEP)
        self.revised: set[int] = set()  # transcript lines a turn's second pass changed (their indices)
        self.revisions = 0  # how many times it changed lines already in the transcript (views redraw)
        self.captions: dict[Speaker, Partial] = {}  # live captions of utterances still being spoken
        self.notices: deque[Status] = deque(maxlen=5)
        self.summary: CallSummary | None = None
        self.coaching: CallCoaching | None = None  # the agent's call summary, at the end of the call
        self._agent_speaking_since: float | None = None
        self._agent_last_end_s = -1.0
        self.budget.reset()
        self._notify("call", "cards", "promises", "tone", "transcript", "coaching")

    def start_call(self, label: str, mode: str) -> None:
        self.reset_call()
        self.call_label = label
        self.mode = mode
        self.active = True
        self._notify("call")

    def stop_call(self) -> None:
        self.active = False
        self._drop_waiting()
        self._notify("call")

    def _drop_waiting(self) -> None:
        """The call is over: cards still waiting for room will never be timely; they go to the
        history as "not shown" (nothing keeps saying "N more waiting")."""
        held = self.held
        for card in reversed(held):  # the strongest ends up on top of the history
            self._retire(card, "call ended", self.now_s)
        if held:
            self._notify("cards")

    def set_budget(self, config: BudgetConfig) -> None:
        self.budget.config = config
        self.history = deque(self.history, maxlen=config.history_size)
        self.advance(self.now_s)
        self._notify("cards")

    @property
    def agent_speaking(self) -> bool:
        return self._agent_speaking_since is not None

    @property
    def shown(self) -> list[Card]:
        """Visible cards, newest first."""
        cards = [c for c in self.cards.values() if c.state == "shown"]
        return sorted(cards, key=lambda c: (c.shown_at_s or 0.0, c.id), reverse=True)

    @property
    def held(self) -> list[Card]:
        return sorted((c for c in self.cards.values() if c.state == "held"), key=lambda c: c.rank, reverse=True)

    # -- status ----------------------------------------------------------------------------
    def set_status(self, component: str, level: str, message: str) -> None:
        if component not in self.status:
            raise ValueError(f"unknown status component {component!r}")
        self.status[component] = ComponentStatus(level, message)
        self._notify("status")

    def set_rules_error(self, message: str) -> None:
        """A rule file is broken (``message`` names file:line); empty when the rules are fine again."""
        self.rules_error = message
        self._notify("status")

    # -- events ----------------------------------------------------------------------------
    def on_event(self, event: Event | SpeechActivity | Rewind) -> None:
        """Take one event from a runner (live capture or replay), in timeline order."""
        if isinstance(event, Rewind):
            label, mode, status, verdicts = self.call_label, self.mode, dict(self.status), self.verdicts
            snoozed = self.snoozed  # "no more cards from this rule in this call": the seek is the same call
            listeners, self._listeners = self._listeners, []  # one refresh after, not one per event
            try:
                self.reset_call()
                self.call_label, self.mode, self.status, self.active = label, mode, status, True
                self.snoozed = snoozed
                for replayed in event.events:
                    self.on_event(replayed)  # type: ignore[arg-type]
                self.advance(event.t_s)
                self.verdicts = verdicts
                self._apply_verdicts()
            finally:
                self._listeners = listeners
            self._notify(*TOPICS)
            return
        t = event_time(event)
        if t is not None and t > self.now_s:
            self.advance(t)
        if isinstance(event, Utterance):
            self._on_utterance(event)
        elif isinstance(event, TurnRevision):
            self._on_revision(event)
        elif isinstance(event, Partial):
            self.captions[event.speaker] = event
            self._notify("transcript")
        elif isinstance(event, Nudge):
            self._on_nudge(event)
        elif isinstance(event, Withdrawn):
            self._on_withdrawn(event)
        elif isinstance(event, RecordItem):
            if event.list == PROMISE_LIST:
                self.promises.append(event)
                self._notify("promises")
        elif isinstance(event, ToneChange):
            if event.speaker is Speaker.CUSTOMER:
                self.customer_tone = event.tone
                self._notify("tone")
        elif isinstance(event, SpeechActivity):
            if event.speaker is Speaker.AGENT:
                if event.speaking and event.t_s > self._agent_last_end_s:
                    self._agent_speaking_since = event.t_s
                elif not event.speaking:
                    self._agent_speaking_since = None
                    self._agent_last_end_s = max(self._agent_last_end_s, event.t_s)
                    self.advance(self.now_s)
        elif isinstance(event, Status):
            rows = components_of(event)
            for component in rows:
                level = "ok" if event.level == "info" else event.level
                self.status[component] = ComponentStatus(level, event.message)
            if not rows:
                self.notices.append(event)
            self._notify("status")
        elif isinstance(event, CallCoaching):
            self.coaching = event
            self._notify("coaching")
        elif isinstance(event, CallSummary):
            self.summary = event
            self.active = False
            self.ended = True
            self._drop_waiting()
            self._notify("call")

    def _on_utterance(self, u: Utterance) -> None:
        self.transcript.append(u)
        caption = self.captions.get(u.speaker)
        if caption is not None and caption.start_s < u.end_s:  # the final words replace the caption
            del self.captions[u.speaker]
        if u.speaker is Speaker.AGENT:
            self._agent_speaking_since = None
            self._agent_last_end_s = max(self._agent_last_end_s, u.end_s)
        elif u.signals is not None:
            tone = u.signals.tone_state
            if tone != self.customer_tone:
                self.customer_tone = tone
                self._notify("tone")
        self._notify("transcript")
        self.advance(self.now_s)

    def _on_revision(self, revision: TurnRevision) -> None:
        """A turn heard again (``turn_pass.py``): its transcript lines take the revised text (cards
        already shown keep the words they quote); ``revised`` holds the indices of the lines changed."""
        new = {u.index: u for u in revision.utterances}
        changed = False
        for k, u in enumerate(self.transcript):
            r = new.get(u.index)
            if r is not None and r.speaker is u.speaker and r.text != u.text:
                self.transcript[k] = replace(u, text=r.text, words=r.words, confidence=r.confidence)
                self.revised.add(u.index)
                changed = True
        if changed:
            self.revisions += 1
            self._notify("transcript")

    def _early_card(self, early_id: int) -> Card | None:
        """The card (on screen, waiting or in the history) holding early nudge ``early_id``."""
        for card in (*self.cards.values(), *self.history):
            if card.holds_early(early_id):
                return card
        return None

    def _on_withdrawn(self, event: Withdrawn) -> None:
        card = self._early_card(event.early_id)
        if card is None:  # snoozed, experimental, or long gone
            return
        self.withdrawn += 1
        if not card.settle_early(event.early_id, None):  # nothing left: the card goes, not to the history
            if card.id in self.cards:
                del self.cards[card.id]
            elif card in self.history:
                self.history.remove(card)
        self.advance(self.now_s)
        self._notify("cards")

    def _on_nudge(self, nudge: Nudge) -> None:
        if nudge.confirms is not None:  # the final text bears an early nudge out: its card stays, updated
            card = self._early_card(nudge.confirms)
            if card is not None:
                card.settle_early(nudge.confirms, nudge)
                self._notify("cards")
            return  # never a second card (no card: the early one was snoozed, hidden or is long gone)
        if nudge.experimental:
            self.hidden_experimental += 1
            return
        if nudge.rule in self.snoozed:
            self.snoozed_count += 1
            return
        same = next((c for c in self.cards.values() if c.is_same_moment(nudge)), None)
        if same is not None:  # one card per moment: the nudge joins the card about its utterance
            same.merge(nudge)
            self.advance(self.now_s)
            self._notify("cards")
            return
        card = Card(self._next_id, nudge)
        self._next_id += 1
        self.cards[card.id] = card
        self.advance(self.now_s)
        self._notify("cards")

    # -- time ------------------------------------------------------------------------------
    def advance(self, now_s: float) -> None:
        """Move the call clock to ``now_s``: fade old cards, drop stale held ones, let held ones out.

        Each step happens at the call time it is due, so the result does not depend on how
        often this is called.
        """
        changed = False
        now_s = max(now_s, self.now_s)
        while True:
            t = self._next_change_s()
            if t is None or t > now_s:
                break
            t = max(t, self.now_s)
            self.now_s = t
            changed |= self._settle(t)
        self.now_s = now_s
        changed |= self._settle(now_s)
        if changed:
            self._notify("cards")

    def _next_change_s(self) -> float | None:
        """The earliest future call time at which the cards can change without a new event."""
        cfg = self.budget.config
        times = [
            c.shown_at_s + cfg.card_lifetime_s
            for c in self.cards.values()
            if c.state == "shown" and c.shown_at_s is not None
        ]
        held = [c for c in self.cards.values() if c.state == "held"]
        if held:
            times.extend(c.nudge.t_s + cfg.max_wait_s for c in held)
            opening = self.budget.next_opening_s()
            if opening is not None and opening > self.now_s:
                times.append(opening)
        future = [t for t in times if t > self.now_s]
        return min(future) if future else None

    def _settle(self, now_s: float) -> bool:
        cfg = self.budget.config
        changed = False
        for card in list(self.cards.values()):
            if card.state == "shown" and card.shown_at_s is not None and now_s >= card.shown_at_s + cfg.card_lifetime_s:
                self._retire(card, "faded", card.shown_at_s + cfg.card_lifetime_s)
                changed = True
            elif card.state == "held" and now_s >= card.nudge.t_s + cfg.max_wait_s:
                self._retire(card, "missed", card.nudge.t_s + cfg.max_wait_s)
                changed = True
        while True:
            chosen, displaced = self.budget.select(self.held, self.shown, now_s, self.agent_speaking)
            if chosen is None:
                break
            if displaced is not None:
                self._retire(displaced, "displaced", now_s)
            chosen.state = "shown"
            chosen.shown_at_s = now_s
            self.budget.record_shown(now_s)
            changed = True
        return changed

    def _retire(self, card: Card, reason: str, at_s: float) -> None:
        card.state = "history"
        card.ended_at_s = at_s
        card.end_reason = reason
        del self.cards[card.id]
        self.history.appendleft(card)

    # -- the agent's actions -----------------------------------------------------------------
    def find_card(self, card_id: int) -> Card | None:
        if card_id in self.cards:
            return self.cards[card_id]
        return next((c for c in self.history if c.id == card_id), None)

    def dismiss(self, card_id: int) -> None:
        card = self.cards.get(card_id)
        if card is not None:
            self._retire(card, "dismissed", self.now_s)
            self.advance(self.now_s)
            self._notify("cards")

    def snooze(self, rule: str) -> None:
        """No more cards from ``rule`` in this call; its cards on screen go to the history."""
        self.snoozed.add(rule)
        for card in list(self.cards.values()):
            if not card.drop_rule(rule):
                self._retire(card, "snoozed", self.now_s)
        self.advance(self.now_s)
        self._notify("cards")

    def give_feedback(self, card_id: int, verdict: Verdict) -> dict[str, Any]:
        """Log "helpful" or "wrong" for a card, with its evidence and the turns around it."""
        if verdict not in ("helpful", "wrong"):
            raise ValueError("verdict must be 'helpful' or 'wrong'")
        card = self.find_card(card_id)
        if card is None:
            raise KeyError(f"no card {card_id}")
        record = self.feedback_record(card, verdict)
        if card.also:  # the card's other nudges (one card per moment): the verdict was on all of them
            record["also"] = [n.to_json() for n in card.also]
        if self.feedback_log is not None:
            self.feedback_log.write(record)  # OutputError: not saved, so the card takes a verdict again
        card.verdict = verdict
        self.verdicts[nudge_key(card.nudge)] = verdict
        if verdict == "wrong" and card.state != "history":
            self.dismiss(card_id)
        self._notify("cards")
        return record

    def _apply_verdicts(self) -> None:
        """After a seek: the cards replayed take the verdicts given on them (already logged: not
        offered again), and a card marked wrong stays off the screen, as when it was marked."""
        if not self.verdicts:
            return
        for card in [*self.cards.values(), *self.history]:
            verdict = next((self.verdicts[k] for k in map(nudge_key, card.nudges) if k in self.verdicts), None)
            if verdict is None:
                continue
            card.verdict = verdict
            if verdict == "wrong" and card.id in self.cards:
                self._retire(card, "dismissed", self.now_s)
        self.advance(self.now_s)

    def feedback_record(self, card: Card, verdict: str) -> dict[str, Any]:
        nudge = card.nudge
        by_index = {u.index: u for u in self.transcript}
        fired_at = by_index.get(nudge.utterance_index)
        first = min([e.utterance_index for e in nudge.evidence] + [nudge.utterance_index])
        context = [u for u in self.transcript if first - CONTEXT_TURNS <= u.index <= nudge.utterance_index]
        # The turns as a rule example: paste under the rule's `examples: quiet:` to silence it here.
        example = [{u.speaker.value: u.text} for u in context[-(CONTEXT_TURNS + 2) :]]
        return {
            "type": "feedback",
            "verdict": verdict,
            "at": datetime.fromtimestamp(self._wall_clock(), timezone.utc).isoformat(timespec="seconds"),
            "call": self.call_label,
            "mode": self.mode,
            "rule": nudge.rule,
            "rule_source": nudge.rule_source,
            "t": round(nudge.t_s, 3),
            "nudge": nudge.to_json(),
            "utterance": None
            if fired_at is None
            else {"index": fired_at.index, "speaker": fired_at.speaker.value, "text": fired_at.text},
            "example": example,
        }
