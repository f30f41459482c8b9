"""Evaluate the rules on conversations, labelled or not: ``rapport-assist eval``.

Every conversation goes through the same path as a replayed transcript: spaCy annotation (in
batches), the conversation signals, then the rule engine, one call at a time. Then, per rule:

* **conversation level**, over the conversations labelled for the rule: a conversation is
  positive when its label list is non-empty, predicted positive when the rule fired anywhere in it;
* **turn level**: each nudge is matched to at most one labelled turn and each labelled turn to at
  most one nudge (see ``match_turns``). Unmatched labels are *misses*, unmatched nudges *false
  alarms* (a repeated nudge about an already matched turn is a false alarm too: the agent sees it);
* nudges per conversation, over every conversation (the only figure for unlabelled data).

Inputs (``load_conversations``):

* a dialogue ``.jsonl`` file, one conversation per line, as ``shared/data/dialogues``:
  ``{"id": ..., "turns": [{"speaker", "text", "start"?, "end"?}, ...], "labels": {RULE: [TURN, ...]},
  "other_labels": {...}, "hard_negatives": {...}, "borderline": [RULE, ...]}`` (label fields optional:
  without them the conversation is unlabelled). ``borderline`` lists the moments whose call in
  this conversation was a hard one; without it, they are read from ``notes`` (``borderline_in_notes``). Turn indices are 0-based positions in ``turns``. Links, @handles
  and HTML entities are dropped from the text (written threads; nobody says them on a call), and a
  sentence's end glued to the next word gets its space back ("arrive.why not?i paid");
* a folder of transcripts (``*.jsonl``, the replay format, ``*.txt`` "Agent: …" turns, Amazon Transcribe,
  Call Analytics or Contact Lens ``*.json``, ``*.vtt``/``*.srt`` captions), each named by its file stem (two of one
  stem, ``call.json`` and ``call.vtt``: ``call_json``, ``call_vtt``, as qa names them), with
  labels from a separate file (``read_labels``) whose turn indices are utterance indices (the
  0-based non-blank line number, as in replay's event log).

Nothing here prints: ``evaluate`` returns an ``EvalReport``; ``format_text`` and
``report_to_json`` render it.
"""

from __future__ import annotations

import difflib
import html
import json
import re
import textwrap
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Sequence

from .annotate import AnnotatedUtterance, Annotator
from .errors import BadInput, InputNotFound, UsageError
from .pipeline import CallPipeline
from .rules import RuleEngine, RuleSet
from .rules.model import Rule, required_speakers
from .signals import SignalTracker
from .transcript_base import json_error
from .sources import heard_sides
from .transcript import (
    TRANSCRIPT_SUFFIXES,
    SpeakerMap,
    Warn,
    is_json_transcript,
    json_lines,
    not_a_transcript,
    parse_line,
    read_lines,
    read_transcript,
    transcript_map,
)
from .turn_pass import apply_revisions
from .types import Nudge, Speaker, TurnRevision, Utterance, UtteranceSignals

if TYPE_CHECKING:  # pragma: no cover
    from spacy.language import Language

LABEL_FIELDS = ("labels", "other_labels")  # moment -> turns where its nudge should be
HARD_NEGATIVE_FIELD = "hard_negatives"  # moment -> turns where it must not fire
BORDERLINE_FIELD = "borderline"  # moments whose call in this conversation was a hard one
# a notes header "<moment> @3, borderline:" or "<moment> not fired, borderline:" (LABELING.md)
_NOTE_HEADER = re.compile(r"\b([a-z][a-z0-9]*(?:-[a-z0-9]+)+)\s+(@\d+|not fired)([^:]{0,40}):")
TURN_MATCH = (
    "a nudge matches a labelled turn when its first evidence or the utterance it fired at "
    "is that turn, or else the agent's next turn after it"
)
ANNOTATE_BATCH = 1000  # utterances annotated together (spaCy batches inside), across conversations

_UNSPOKEN = re.compile(r"https?:\s?//\S+|\bwww\.\S+|(?<![\w@])@\w+")
# a sentence's end glued to the next word, as tweets write it ("didn't arrive.why not?i paid"):
# spaCy reads "arrive.why" as one word; the stop gets its space back. After two lowercase letters
# (not "U.S.", "e.g."), and not in a name ("amazon.com", "invoice.pdf") or an address
_GLUED_STOP = re.compile(r"(?<=[a-z]{2})([.?!]+)([A-Za-z][\w']*)")
_NOT_A_SENTENCE = frozenset(
    "com co uk org net gov edu io ly me tv us ca au de fr ie in nz biz info html htm php asp aspx pdf jpg "
    "jpeg png gif txt doc docx xls xlsx csv zip exe".split()
)


def _unglued(m: re.Match[str]) -> str:
    start = m.string.rfind(" ", 0, m.start()) + 1
    end = m.string.find(" ", m.end())
    word = m.string[start : len(m.string) if end < 0 else end]
    if m.group(1) == "." and (m.group(2).lower() in _NOT_A_SENTENCE or "@" in word or "/" in word):
        return m.group(0)
    return f"{m.group(1)} {m.group(2)}"


# ---------------------------------------------------------------------------- input


@dataclass(frozen=True)
class Labels:
    """Where each moment's nudge should be (``moments``) and must not be (``hard_negatives``),
    as turn indices; ``where`` is the ``file:line`` they came from; ``borderline``: the moments
    whose call here was a hard one (scored, and also left out in the "clear" figures)."""

    moments: dict[str, tuple[int, ...]]
    hard_negatives: dict[str, tuple[int, ...]]
    where: str
    borderline: frozenset[str] = frozenset()


@dataclass(frozen=True, eq=False)
class Conversation:
    """One call or thread: its utterances (index = turn) and its labels (None: unlabelled)."""

    id: str
    where: str
    utterances: tuple[Utterance, ...]
    labels: Labels | None = None
    # a recorded call's whole timeline (utterances among speech-activity marks) and length, when
    # known: the call then runs exactly as in 'qa' (dead air and talk-over from the audio)
    timeline: tuple | None = None
    audio_s: float | None = None
    # a recording's sides (``ReplayInput.sides``); None: a transcript or dialogue, whose lines say
    # whose they are (one speaker only: a one-sided call, ``sources.heard_sides``)
    sides: tuple[Speaker, ...] | None = None

    def labelled_for(self, rule: str) -> bool:
        return self.labels is not None and rule in self.labels.moments

    def borderline_for(self, rule: str) -> bool:
        """The labels mark this conversation's call on ``rule`` as a hard one."""
        return self.labels is not None and rule in self.labels.borderline


_TYPOGRAPHIC = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})


def spoken_text(text: str) -> str:
    """Text as it could be said: HTML entities decoded, typographic quotes made plain (spaCy's
    parser reads "we\u2019ll" as a verb of its own, "we'll" as "we will"), links and @handles
    dropped, spaces tidied, and a space put back after a sentence's end glued to the next word
    ("didn't arrive.why not?i paid": spaCy reads "arrive.why" as one word; not "amazon.com")."""
    text = _UNSPOKEN.sub(" ", html.unescape(text).translate(_TYPOGRAPHIC))
    return " ".join(_GLUED_STOP.sub(_unglued, text).split())


def _turn_list(value: Any, name: str, where: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in value):
        raise BadInput(
            f"{where}: {name} must be a list of turn numbers (0-based), got {value!r}",
            'write e.g. "you-not-we": [4, 6], or [] when the moment does not occur',
        )
    return tuple(sorted(set(value)))


def _moment_map(value: Any, field_name: str, where: str) -> dict[str, tuple[int, ...]]:
    if not isinstance(value, dict):
        raise BadInput(
            f"{where}: '{field_name}' must be an object mapping rule ids to turn lists, got {type(value).__name__}",
            'write e.g. {"you-not-we": [4], "angry-no-apology": []}',
        )
    return {str(k): _turn_list(v, f"'{field_name}.{k}'", where) for k, v in value.items()}


def borderline_in_notes(notes: str, moments: Iterable[str] | None = None) -> list[str]:
    """The moments a labeller's ``notes`` mark as a hard call, in the form of LABELING.md: a
    header ``<moment> @N, borderline:`` or ``<moment> not fired, borderline:`` (the word
    "borderline" between the moment and the colon). ``moments``: only these names count."""
    known = None if moments is None else set(moments)
    found: list[str] = []
    for m in _NOTE_HEADER.finditer(notes):
        name = m.group(1)
        if "borderline" in m.group(3) and (known is None or name in known) and name not in found:
            found.append(name)
    return found


def _borderline(obj: Mapping[str, Any], moments: Iterable[str], where: str) -> frozenset[str]:
    if BORDERLINE_FIELD in obj:
        value = obj[BORDERLINE_FIELD]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise BadInput(
                f"{where}: '{BORDERLINE_FIELD}' must be a list of rule ids, got {value!r}",
                'write e.g. "borderline": ["missed-reflection"], or [] when no call was hard',
            )
        return frozenset(value)
    notes = obj.get("notes")
    return frozenset(borderline_in_notes(notes, moments)) if isinstance(notes, str) else frozenset()


def parse_labels(obj: Mapping[str, Any], where: str) -> Labels | None:
    """The label fields of a record (``labels``, ``other_labels``, ``hard_negatives``,
    ``borderline`` or else ``notes``); None if it has none. A moment in both label fields gets
    the union of its turns."""
    if not any(f in obj for f in LABEL_FIELDS):
        if HARD_NEGATIVE_FIELD in obj:
            raise BadInput(
                f"{where}: '{HARD_NEGATIVE_FIELD}' without 'labels'",
                "add \"labels\" (an empty list per moment that does not occur)",
            )
        return None
    moments: dict[str, tuple[int, ...]] = {}
    for f in LABEL_FIELDS:
        if f in obj:
            for k, turns in _moment_map(obj[f], f, where).items():
                moments[k] = tuple(sorted(set(moments.get(k, ())) | set(turns)))
    hard = _moment_map(obj[HARD_NEGATIVE_FIELD], HARD_NEGATIVE_FIELD, where) if HARD_NEGATIVE_FIELD in obj else {}
    for moment, turns in hard.items():  # "fire here" and "must not fire here" at once: scored both ways
        both = sorted(set(turns) & set(moments.get(moment, ())))
        if both:
            raise BadInput(
                f"{where}: turn {both[0]} is labelled for '{moment}' and listed in its '{HARD_NEGATIVE_FIELD}' too",
                "keep it in one of them: 'labels' where the nudge belongs, 'hard_negatives' where it must not fire",
            )
    return Labels(moments, hard, where, _borderline(obj, moments, where))


def _check_range(labels: Labels, n_turns: int, name: str) -> None:
    for field_name, mapping in (("labels", labels.moments), (HARD_NEGATIVE_FIELD, labels.hard_negatives)):
        for moment, turns in mapping.items():
            bad = [i for i in turns if i >= n_turns]
            if bad:
                raise BadInput(
                    f"{labels.where}: {field_name} '{moment}' names turn {bad[0]}, but {name} has "
                    f"{n_turns} turn{'s' if n_turns != 1 else ''} (0 to {n_turns - 1})",
                    "turn numbers are 0-based",
                )


def read_dialogues(path: Path) -> list[Conversation]:
    """Conversations of a dialogue ``.jsonl`` file (one per line); BadInput names ``file:line``."""
    conversations: list[Conversation] = []
    seen: dict[str, int] = {}
    for lineno, where, obj in json_lines(path):
        if not isinstance(obj, dict):
            raise BadInput(
                f"{where}: expected a JSON object, got {type(obj).__name__}",
                'write one dialogue per line: {"id": "...", "turns": [...], "labels": {...}}',
            )
        if "turns" not in obj:
            hint = (
                "this looks like a transcript (one utterance per line): put transcripts in a folder and "
                "pass the folder, with --labels FILE"
                if "speaker" in obj
                else 'each line needs "turns": [{"speaker": "agent", "text": "..."}, ...]'
            )
            raise BadInput(f"{where}: missing 'turns'", hint)
        cid = obj.get("id", f"line-{lineno}")
        if not isinstance(cid, (str, int)) or isinstance(cid, bool):
            raise BadInput(f"{where}: 'id' must be a string, got {cid!r}", "name each dialogue uniquely")
        cid = str(cid)
        if cid in seen:
            raise BadInput(f"{where}: id {cid!r} already used on line {seen[cid]}", "give each dialogue its own id")
        seen[cid] = lineno
        turns = obj["turns"]
        if not isinstance(turns, list) or not turns:
            raise BadInput(
                f"{where}: 'turns' must be a non-empty list", 'write [{"speaker": "agent", "text": "..."}, ...]'
            )
        utterances: list[Utterance] = []
        prev_end = 0.0
        for i, turn in enumerate(turns):
            if isinstance(turn, dict) and isinstance(turn.get("text"), str):
                turn = {**turn, "text": spoken_text(turn["text"])}
            utt = parse_line(turn, i, prev_end, f"{where}: turn {i}")
            prev_end = utt.end_s
            utterances.append(utt)
        labels = parse_labels(obj, where)
        if labels is not None:
            _check_range(labels, len(utterances), f"dialogue {cid!r}")
        conversations.append(Conversation(cid, where, tuple(utterances), labels))
    if not conversations:
        raise BadInput(f"{path} has no dialogues", 'write one JSON object per line: {"id": "...", "turns": [...]}')
    return conversations


def _line_of_key(text: str, key: str) -> int:
    """1-based line where ``"key":`` first appears in a JSON text (1 if not found)."""
    m = re.search(re.escape(json.dumps(key)) + r"\s*:", text)
    if m is None:
        m = re.search(re.escape(json.dumps(key, ensure_ascii=False)) + r"\s*:", text)
    return text.count("\n", 0, m.start()) + 1 if m else 1


def read_labels(path: Path) -> dict[str, Labels]:
    """Labels per conversation name from a ``.jsonl`` file (one ``{"id": NAME, "labels": {...},
    "other_labels"?, "hard_negatives"?}`` per line) or a JSON object ``{NAME: RECORD, ...}``, where
    RECORD is such a record without ``id``, or just the ``{RULE: [TURN, ...]}`` mapping."""
    out: dict[str, Labels] = {}
    if path.suffix.lower() == ".jsonl":
        lines: dict[str, int] = {}
        for lineno, where, obj in json_lines(path):
            if not isinstance(obj, dict) or not isinstance(obj.get("id"), (str, int)):
                raise BadInput(
                    f"{where}: expected an object with an 'id' and 'labels'",
                    'write {"id": "call1", "labels": {"you-not-we": [4]}}',
                )
            name = str(obj["id"])
            if name in lines:
                raise BadInput(f"{where}: {name!r} already labelled on line {lines[name]}", "merge the two lines")
            lines[name] = lineno
            labels = parse_labels(obj, where)
            if labels is None:
                raise BadInput(f"{where}: no 'labels'", 'add "labels": {"RULE": [TURN, ...]}')
            out[name] = labels
        return out
    text = "".join(raw for _, raw in read_lines(path))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(
            f"{path}:{exc.lineno}: not valid JSON ({json_error(exc)})",
            "fix the JSON, or write one object per line in a .jsonl file",
        ) from None
    except (RecursionError, ValueError):  # nested too deeply, or a number of thousands of digits
        raise BadInput(
            f"{path}: not a labels file (JSON nested too deeply or a number too long to read)",
            'write {"call1": {"you-not-we": [4]}, "call2": {"you-not-we": []}}',
        ) from None
    if not isinstance(data, dict):
        raise BadInput(
            f"{path}:1: expected a JSON object mapping conversation names to labels",
            'write {"call1": {"you-not-we": [4]}, "call2": {"you-not-we": []}}',
        )
    for name, value in data.items():
        where = f"{path}:{_line_of_key(text, name)}"
        if not isinstance(value, dict):
            raise BadInput(
                f"{where}: labels of {name!r} must be an object, got {type(value).__name__}",
                'write {"RULE": [TURN, ...]}',
            )
        record = (
            value
            if any(f in value for f in (*LABEL_FIELDS, HARD_NEGATIVE_FIELD, BORDERLINE_FIELD))
            else {"labels": value}
        )
        labels = parse_labels(record, where)
        if labels is None:  # a record of 'borderline' alone: which moments it makes hard, of no labels
            raise BadInput(
                f"{where}: {name!r} has '{BORDERLINE_FIELD}' but no 'labels'", 'add "labels": {"RULE": [TURN, ...]}'
            )
        out[name] = labels
    return out


def read_transcript_folder(
    folder: Path,
    speaker_map: SpeakerMap = (),
    channel_order: tuple[Speaker, Speaker] = (Speaker.AGENT, Speaker.CUSTOMER),
    warn: Warn | None = None,
) -> list[Conversation]:
    """Each transcript in ``folder`` (sorted by name; ``TRANSCRIPT_SUFFIXES``, less a ``.txt`` or
    ``.json`` that is something else: ``not_a_transcript``) as an unlabelled conversation.
    ``speaker_map``: people named as sides, for the formats that label turns; ``channel_order``:
    the sides of a Transcribe job's channels (``transcript_map``); ``warn``: told of the turns a
    reader left out (a bot's)."""
    files = sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in TRANSCRIPT_SUFFIXES and not_a_transcript(p, speaker_map) is None
    )
    if not files:
        raise InputNotFound(
            f"no transcripts ({', '.join('*' + s for s in TRANSCRIPT_SUFFIXES)}) in {folder}",
            "pass a dialogue .jsonl file, or a folder of transcripts with --labels FILE",
        )
    stems = Counter(f.stem for f in files)
    conversations: list[Conversation] = []
    used: set[str] = set()
    for f in files:
        # a call's transcript twice (call.json and call.vtt): named as qa names them, call_json, call_vtt
        name = f.stem if stems[f.stem] == 1 else f"{f.stem}_{f.suffix.lstrip('.').lower()}"
        base, n = name, 2
        while name in used:  # call.TXT beside call.txt
            name, n = f"{base}-{n}", n + 1
        used.add(name)
        conversations.append(
            Conversation(name, str(f), tuple(read_transcript(f, transcript_map(f, speaker_map, channel_order), warn)))
        )
    return conversations


def apply_labels(conversations: Sequence[Conversation], labels: Mapping[str, Labels]) -> list[Conversation]:
    """Conversations with the labels of their name (file stem or id) replacing their own; a label
    entry naming no conversation is an error (a typo would silently drop it)."""
    by_name: dict[str, Conversation] = {}
    files_of_stem: dict[str, list[str]] = {}  # two transcripts of one stem have ids of their own (call_txt)
    for c in conversations:
        by_name[c.id] = c
        if Path(c.where).suffix.lower() in TRANSCRIPT_SUFFIXES:
            by_name.setdefault(Path(c.where).name, c)
            files_of_stem.setdefault(Path(c.where).stem, []).append(Path(c.where).name)
    chosen: dict[int, Labels] = {}
    for name, lab in labels.items():
        conv = by_name.get(name)
        same = sorted(files_of_stem.get(name, ()))
        if conv is None and len(same) > 1:
            raise BadInput(
                f"{lab.where}: {name!r} names {len(same)} transcripts ({', '.join(same)})",
                f"name one by its file name ({same[0]!r}) or its conversation name ({name + '_' + same[0].rsplit('.', 1)[-1].lower()!r})",
            )
        if conv is None:
            close = difflib.get_close_matches(name, [c.id for c in conversations], n=1)
            raise BadInput(
                f"{lab.where}: no conversation named {name!r} in the input",
                f"did you mean {close[0]!r}?"
                if close
                else "a label names a dialogue by its id, a transcript by its file name without the extension, a recording "
                "by its qa id (the file name without extension and side)",
            )
        _check_range(lab, len(conv.utterances), f"{name!r}")
        chosen[id(conv)] = lab
    return [replace(c, labels=chosen[id(c)]) if id(c) in chosen else c for c in conversations]


def load_conversations(
    path: Path,
    labels_path: Path | None = None,
    speaker_map: SpeakerMap = (),
    channel_order: tuple[Speaker, Speaker] = (Speaker.AGENT, Speaker.CUSTOMER),
    warn: Warn | None = None,
) -> list[Conversation]:
    """A dialogue file, a folder of transcripts or one transcript that is not JSONL (a ``.txt``,
    ``.json``, ``.vtt``, ``.srt``: a ``.jsonl`` file is dialogues), with labels from ``labels_path``
    if given (``speaker_map``, ``channel_order``, ``warn``: see ``read_transcript_folder``)."""
    if not path.exists():
        raise InputNotFound(f"no such file or folder: {path}", "check the path")
    if path.is_dir():
        conversations = read_transcript_folder(path, speaker_map, channel_order, warn)
    elif path.suffix.lower() in (".txt", ".vtt", ".srt") or (
        path.suffix.lower() == ".json" and is_json_transcript(path, unreadable=False)  # else JSON lines: dialogues
    ):
        utterances = tuple(read_transcript(path, transcript_map(path, speaker_map, channel_order), warn))
        conversations = [Conversation(path.stem, str(path), utterances)]
    else:
        conversations = read_dialogues(path)
    if labels_path is not None:
        conversations = apply_labels(conversations, read_labels(labels_path))
    return conversations


# ---------------------------------------------------------------------------- running


@dataclass(frozen=True, eq=False)
class CallResult:
    conversation: Conversation
    nudges: tuple[Nudge, ...]
    utterances: tuple[Utterance, ...] = ()  # as the pipeline gave them out: with their signals


@dataclass(frozen=True)
class Timing:
    """Seconds spent in spaCy annotation, and in signals + rules, for ``utterances`` utterances."""

    annotate_s: float
    rules_s: float
    utterances: int

    @property
    def rules_utterances_per_s(self) -> float | None:
        return self.utterances / self.rules_s if self.rules_s > 0 else None


def _annotated_calls(
    conversations: Sequence[Conversation], annotator: Annotator, batch: int, skip: Sequence[str] = ()
) -> Iterator[tuple[Conversation, list[AnnotatedUtterance], float]]:
    """Each conversation with its annotated utterances, annotating ~``batch`` utterances at a time;
    the third item is the annotation time charged to it."""
    i = 0
    while i < len(conversations):
        group = [conversations[i]]
        size = len(conversations[i].utterances)
        i += 1
        while i < len(conversations) and size + len(conversations[i].utterances) <= batch:
            group.append(conversations[i])
            size += len(conversations[i].utterances)
            i += 1
        started = time.perf_counter()
        annotated = list(annotator.annotate_many((u for c in group for u in c.utterances), skip=skip))
        spent = (time.perf_counter() - started) / len(group)
        at = 0
        for c in group:
            yield c, annotated[at : at + len(c.utterances)], spent
            at += len(c.utterances)


class _Preannotated(Annotator):
    """The Annotator ``CallPipeline`` gets during an evaluation: it hands back the annotation
    made beforehand in a batch for each utterance of the conversation (the same utterance
    objects), and annotates anything else itself, so the pipeline runs unchanged."""

    def __init__(self, nlp: Language, annotated: Sequence[AnnotatedUtterance]) -> None:
        super().__init__(nlp)
        self._done = {id(au.utterance): au for au in annotated}

    def annotate(self, utterance: Utterance, skip: Sequence[str] = ()) -> AnnotatedUtterance:
        au = self._done.get(id(utterance))
        return au if au is not None and au.utterance is utterance else super().annotate(utterance, skip)


def run_conversations(
    conversations: Sequence[Conversation], ruleset: RuleSet, annotator: Annotator, batch: int = ANNOTATE_BATCH
) -> tuple[list[CallResult], Timing]:
    """Run every conversation through ``CallPipeline`` exactly as a replayed transcript (signals,
    rules, timing events), with spaCy annotation batched across conversations; the nudges of
    every enabled rule."""
    engine = RuleEngine(ruleset)
    tracker = SignalTracker(ruleset, compiler=engine.compiler)
    results: list[CallResult] = []
    annotate_s = rules_s = 0.0
    skip = annotator.skipping(ruleset.needs_entities)
    for conv, annotated, spent in _annotated_calls(conversations, annotator, batch, skip):
        annotate_s += spent
        started = time.perf_counter()
        # no masking: the utterances were annotated beforehand, as labelled (audio comes masked from the cache)
        pipeline = CallPipeline(_Preannotated(annotator.nlp, annotated), engine, tracker, masker=None)
        items = conv.timeline if conv.timeline is not None else conv.utterances
        sides = heard_sides(items, conv.sides)  # as replay and qa run it
        events = [
            e
            for e in pipeline.run(items, audio_s=conv.audio_s, sides=sides)
            if isinstance(e, (Nudge, Utterance, TurnRevision))
        ]
        rules_s += time.perf_counter() - started
        results.append(
            CallResult(
                conv,
                tuple(e for e in events if isinstance(e, Nudge)),
                tuple(apply_revisions(events)),  # each utterance's final text (a turn's second pass applied)
            )
        )
    return results, Timing(annotate_s, rules_s, sum(len(c.utterances) for c in conversations))


# ---------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class Counts:
    """True/false positives and false negatives (and true negatives, conversation level only).

    Precision is None when nothing fired, recall when nothing was labelled. F1 is
    2·tp / (2·tp + fp + fn): the harmonic mean of the two where both exist, 0 when there are
    errors and no true positive, None when nothing was labelled and nothing fired."""

    tp: int
    fp: int
    fn: int
    tn: int | None = None

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def f1(self) -> float | None:
        d = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / d if d else None


@dataclass(frozen=True)
class Miss:
    """A labelled turn no nudge of the rule matched."""

    conversation: str
    turn: int
    speaker: str
    text: str
    borderline: bool = False  # in a conversation whose call on the rule is marked borderline
    # what the rule reads when the labelled turn is another speaker's reply (an angry customer's
    # words before the agent's reply that owed an apology), each with its tone and length
    context: tuple["Said", ...] = ()


@dataclass(frozen=True)
class Said:
    """One piece of a nudge's evidence: a turn, its words, and what matched in it."""

    turn: int
    speaker: str
    text: str
    matched: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class Fire:
    """One nudge: ``turn`` is the turn it is about (its first evidence), ``fired_at`` the
    utterance at whose end it fired, ``evidence`` the turns it rests on (first: ``turn``)."""

    conversation: str
    turn: int
    fired_at: int
    message: str
    evidence: tuple[Said, ...]
    hard_negative: bool = False  # on a turn listed in hard_negatives for this rule
    borderline: bool = False  # in a conversation whose call on the rule is marked borderline


@dataclass(frozen=True)
class RuleReport:
    """Everything measured for one rule. ``conversation_level``/``turn_level`` are None when no
    conversation is labelled for the rule; ``misses``/``false_alarms`` are in input order, all of
    them; ``unlabelled_fires`` are the fires in conversations without labels for the rule."""

    rule: str
    title: str
    conversations: int
    labelled_conversations: int
    nudges: int
    conversations_with_nudges: int
    conversation_level: Counts | None
    turn_level: Counts | None
    tolerated: int  # turn-level matches that needed the agent's-next-turn tolerance
    hard_negative_fires: int
    misses: tuple[Miss, ...] = ()
    false_alarms: tuple[Fire, ...] = ()
    unlabelled_fires: tuple[Fire, ...] = ()
    # the same two levels over the labelled conversations whose call on the rule is not marked
    # borderline ("clear"), and how many were left out for that
    borderline_conversations: int = 0
    clear_conversation_level: Counts | None = None
    clear_turn_level: Counts | None = None

    @property
    def labelled(self) -> bool:
        return self.labelled_conversations > 0

    @property
    def nudges_per_conversation(self) -> float:
        return self.nudges / self.conversations if self.conversations else 0.0


@dataclass(frozen=True)
class EvalReport:
    source: str
    conversations: int
    labelled_conversations: int
    utterances: int
    rules: tuple[RuleReport, ...]
    labels_without_rule: dict[str, int] = field(default_factory=dict)  # moment -> labelled turns
    timing: Timing | None = None
    # of labels_without_rule, those naming a loaded rule that gives no nudge to score -> why
    labels_unscored_why: dict[str, str] = field(default_factory=dict)


def _no_nudges(ruleset: RuleSet) -> dict[str, str]:
    """Loaded rules eval cannot score, each with why: switched off, or not a nudge rule."""
    why = {r.id: "switched off in the rule files" for r in ruleset.disabled}
    for r in ruleset.rules:
        if getattr(r, "praise", False):
            why[r.id] = "a praise rule, which gives no nudges (a line of the call summary instead)"
        elif getattr(r, "record", None) is not None:
            why[r.id] = "a record rule, which gives no nudges (an item on its list instead)"
    return why


def anchor(nudge: Nudge) -> int:
    """The turn a nudge is about: its first evidence (for ``uncommitted-promise``, the promise,
    although it fires at the agent's next turn), else where it fired."""
    return nudge.evidence[0].utterance_index if nudge.evidence else nudge.utterance_index


def next_agent_turn(turn: int, speakers: Sequence[Speaker]) -> int | None:
    for j in range(turn + 1, len(speakers)):
        if speakers[j] is Speaker.AGENT:
            return j
    return None


def match_turns(
    labelled: Iterable[int], nudges: Sequence[Nudge], speakers: Sequence[Speaker]
) -> tuple[list[tuple[int, int, bool]], list[int], list[int]]:
    """One-to-one matching of labelled turns and nudges of one rule in one conversation.

    Returns ``(matches, missed_turns, unmatched_nudges)``, a match being ``(turn, nudge position,
    exact)``. Greedy, in three passes so exact matches win: a nudge's first evidence is the
    labelled turn; then the utterance it fired at is; then (tolerance, ``exact`` False) either
    of them is the agent's next turn after the labelled one. The tolerance covers a rule that
    decides a turn late (it waits for the agent's reply), labels put on the customer turn that
    calls for the agent's reply, and an agent turn the recognizer split in two.
    """
    open_turns = sorted(set(labelled))
    taken: dict[int, tuple[int, bool]] = {}  # nudge position -> (turn, exact)

    def claim(points_at: Callable[[Nudge, int], bool], exact: bool) -> None:
        for pos, nudge in enumerate(nudges):
            if pos in taken:
                continue
            for turn in open_turns:
                if points_at(nudge, turn):
                    taken[pos] = (turn, exact)
                    open_turns.remove(turn)
                    break

    def next_agent_reply(n: Nudge, turn: int) -> bool:
        nxt = next_agent_turn(turn, speakers)
        return nxt is not None and nxt in (anchor(n), n.utterance_index)

    claim(lambda n, turn: anchor(n) == turn, True)
    claim(lambda n, turn: n.utterance_index == turn, True)
    claim(next_agent_reply, False)
    matches = sorted((turn, pos, exact) for pos, (turn, exact) in taken.items())
    return matches, open_turns, [p for p in range(len(nudges)) if p not in taken]


def _fire(conv: Conversation, nudge: Nudge, hard: Iterable[int] = (), borderline: bool = False) -> Fire:
    turn = anchor(nudge)
    evidence = tuple(Said(e.utterance_index, e.speaker.value, e.text, e.matched, e.note) for e in nudge.evidence)
    if not evidence and 0 <= turn < len(conv.utterances):
        u = conv.utterances[turn]
        evidence = (Said(turn, u.speaker.value, u.text),)
    return Fire(
        conv.id,
        turn,
        nudge.utterance_index,
        nudge.message,
        evidence,
        hard_negative=bool({turn, nudge.utterance_index} & set(hard)),
        borderline=borderline,
    )


def _miss_context(
    conv: Conversation, signals: Mapping[int, UtteranceSignals | None], turn: int, speakers: set[Speaker]
) -> tuple[Said, ...]:
    """The utterances a rule that starts on ``speakers`` reads before a missed reply at ``turn``
    (at most 3, the customer's words before the agent's reply), each noted with the tone the
    signals gave it (``signals``: by utterance index) and its length: a team lead sees why the rule stayed quiet. Empty when the
    missed turn is one the rule starts on."""
    said = conv.utterances[turn].speaker
    if not speakers or said in speakers:
        return ()
    i = turn - 1
    while i >= 0 and conv.utterances[i].speaker is said:  # earlier pieces of the same reply
        i -= 1
    out: list[Said] = []
    while i >= 0 and conv.utterances[i].speaker in speakers and len(out) < 3:
        u = conv.utterances[i]
        sig = signals.get(u.index)
        tone = f"tone {sig.tone.label} {sig.tone.score:.2f}" if sig is not None else ""
        if sig is not None and sig.tone.evidence:
            tone += " (" + ", ".join(sig.tone.evidence[:3]) + ")"
        words = len(u.text.split())
        out.append(Said(i, u.speaker.value, u.text, (), "; ".join(x for x in (tone, f"{words} words") if x)))
        i -= 1
    return tuple(reversed(out))


def score_rule(rule: Rule, results: Sequence[CallResult]) -> RuleReport:
    speakers = required_speakers(rule.when)
    conv_c = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    turn_c = {"tp": 0, "fp": 0, "fn": 0}
    clear_conv = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    clear_turn = {"tp": 0, "fp": 0, "fn": 0}
    tolerated = hard_fires = nudges_total = with_nudges = labelled = borderline = 0
    misses: list[Miss] = []
    false_alarms: list[Fire] = []
    unlabelled: list[Fire] = []
    for res in results:
        conv = res.conversation
        nudges = [n for n in res.nudges if n.rule == rule.id]
        nudges_total += len(nudges)
        with_nudges += bool(nudges)
        if not conv.labelled_for(rule.id):
            unlabelled.extend(_fire(conv, n) for n in nudges)
            continue
        assert conv.labels is not None
        labelled += 1
        hard_call = conv.borderline_for(rule.id)
        borderline += hard_call
        gold = conv.labels.moments[rule.id]
        hard = conv.labels.hard_negatives.get(rule.id, ())
        outcome = "tp" if gold and nudges else "fp" if nudges else "fn" if gold else "tn"
        matches, missed, extra = match_turns(gold, nudges, [u.speaker for u in conv.utterances])
        for conv_counts, turn_counts in [(conv_c, turn_c)] + ([] if hard_call else [(clear_conv, clear_turn)]):
            conv_counts[outcome] += 1
            turn_counts["tp"] += len(matches)
            turn_counts["fn"] += len(missed)
            turn_counts["fp"] += len(extra)
        tolerated += sum(1 for _, _, exact in matches if not exact)
        signals = {u.index: u.signals for u in res.utterances} if missed else {}
        for turn in missed:
            u = conv.utterances[turn]
            context = _miss_context(conv, signals, turn, speakers)
            misses.append(Miss(conv.id, turn, u.speaker.value, u.text, hard_call, context))
        for pos in extra:
            fa = _fire(conv, nudges[pos], hard, hard_call)
            hard_fires += fa.hard_negative
            false_alarms.append(fa)
    return RuleReport(
        rule=rule.id,
        title=rule.title,
        conversations=len(results),
        labelled_conversations=labelled,
        nudges=nudges_total,
        conversations_with_nudges=with_nudges,
        conversation_level=Counts(**conv_c) if labelled else None,
        turn_level=Counts(**turn_c) if labelled else None,
        tolerated=tolerated,
        hard_negative_fires=hard_fires,
        misses=tuple(misses),
        false_alarms=tuple(false_alarms),
        unlabelled_fires=tuple(unlabelled),
        borderline_conversations=borderline,
        clear_conversation_level=Counts(**clear_conv) if labelled > borderline else None,
        clear_turn_level=Counts(**clear_turn) if labelled > borderline else None,
    )


def select_rules(ruleset: RuleSet, rule_ids: Sequence[str] | None = None) -> tuple[Rule, ...]:
    """The enabled rules, or just ``rule_ids`` (in that order); UsageError names an unknown id."""
    if not rule_ids:  # rules that nudge (a 'record' rule only keeps a list, a 'praise' rule the call's summary)
        return tuple(r for r in ruleset.rules if getattr(r, "record", None) is None and not getattr(r, "praise", False))
    by_id = {r.id: r for r in ruleset.rules}
    unscorable = _no_nudges(ruleset)
    chosen: list[Rule] = []
    for rid in dict.fromkeys(rule_ids):
        if rid in by_id and rid in unscorable:
            raise UsageError(
                f"--rule {rid}: {unscorable[rid]}, so eval has nothing of it to score",
                f"see where it holds with 'rapport-assist rules explain --rule {rid} CALL', or what a "
                "change does to it with 'rapport-assist rules diff'",
            )
        if rid in by_id:
            chosen.append(by_id[rid])
        elif any(r.id == rid for r in ruleset.disabled):
            raise UsageError(
                f"--rule {rid}: that rule is disabled in the loaded rule files",
                "enable it (overrides: enabled: true) or leave it out",
            )
        else:
            from .rules.source import unknown_rule_hint

            scorable = [r for r in by_id if r not in unscorable]
            raise UsageError(f"--rule {rid}: no such rule in the loaded rule files", unknown_rule_hint(rid, scorable))
    return tuple(chosen)


def evaluate(
    conversations: Sequence[Conversation],
    ruleset: RuleSet,
    annotator: Annotator | None = None,
    rule_ids: Sequence[str] | None = None,
    source: str = "",
) -> EvalReport:
    """Run the conversations through the rules and score each selected rule."""
    select_rules(ruleset, rule_ids)
    results, timing = run_conversations(conversations, ruleset, annotator or Annotator())
    return score_results(results, ruleset, rule_ids, source, timing)


def score_results(
    results: Sequence[CallResult],
    ruleset: RuleSet,
    rule_ids: Sequence[str] | None = None,
    source: str = "",
    timing: Timing | None = None,
) -> EvalReport:
    """Score each selected rule on calls already run (``run_conversations``): the labels are the
    results' conversations' and the nudges theirs."""
    rules = select_rules(ruleset, rule_ids)
    conversations = [r.conversation for r in results]
    rule_names = {r.id for r in rules}
    without_rule: dict[str, int] = {}
    if not rule_ids:
        for c in conversations:
            if c.labels is not None:
                for moment, turns in c.labels.moments.items():
                    if moment not in rule_names:
                        without_rule[moment] = without_rule.get(moment, 0) + len(turns)
    return EvalReport(
        source=source,
        conversations=len(conversations),
        labelled_conversations=sum(1 for c in conversations if c.labels is not None),
        utterances=timing.utterances if timing is not None else sum(len(c.utterances) for c in conversations),
        rules=tuple(score_rule(rule, results) for rule in rules),
        labels_without_rule=dict(sorted((k, v) for k, v in without_rule.items() if v)),
        timing=timing,
        labels_unscored_why={k: why for k, why in _no_nudges(ruleset).items() if without_rule.get(k)},
    )


# ---------------------------------------------------------------------------- reports


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _excerpt(text: str, width: int = 110, focus: str = "") -> str:
    """``text`` cut to about ``width`` characters at word boundaries, around the first
    occurrence of ``focus`` when it would fall outside."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    at = text.lower().find(focus.lower()) if focus else -1
    start = 0
    if at + len(focus) > width - 10:
        start = max(0, min(at - width // 4, len(text) - width))
        space = text.find(" ", start, at)
        start = space + 1 if space >= 0 else start
    end = start + width
    if end < len(text):
        space = text.rfind(" ", start + width // 2, end)
        end = space if space > 0 else end
    return ("…" if start else "") + text[start:end].strip() + ("…" if end < len(text) else "")


def _table(header: list[str], rows: list[list[str]], groups: Sequence[tuple[str, int, int]] = ()) -> list[str]:
    """Columns padded to their widest cell, the first left-aligned, the rest right-aligned;
    ``groups`` (title, first column, last column) adds a line of titles over column spans."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    lines = [line(header), *(line(r) for r in rows)]
    if groups:
        starts = [sum(widths[:i]) + 2 * i for i in range(len(widths))]
        over = ""
        for title, first, last in groups:
            span = starts[last] + widths[last] - starts[first]
            over = over.ljust(starts[first]) + f" {title} ".center(span, "-")
        lines.insert(0, over)
    return lines


def _fire_lines(kind: str, f: Fire) -> list[str]:
    head = f"  {kind} {f.conversation} @{f.turn}" + (f" (fired at @{f.fired_at})" if f.fired_at != f.turn else "")
    lines = [head + ("  [on a hard negative]" if f.hard_negative else "") + ("  [borderline]" if f.borderline else "")]
    for e in sorted(f.evidence, key=lambda e: e.turn)[:4]:
        matched = f"  [{', '.join(e.matched)}]" if e.matched else ""
        said = _excerpt(e.text, 100, e.matched[0] if e.matched else "")
        lines.append(f"        @{e.turn:<3} {e.speaker:<8} {said}{matched}")
    lines.append(f"        -> {_excerpt(f.message, 150)}")
    return lines


def _counts_cells(c: Counts | None) -> list[str]:
    if c is None:
        return ["-", "-", "-", "-"]
    return [_num(c.precision), _num(c.recall), _num(c.f1), f"{c.tp}/{c.fp}/{c.fn}"]


def detail_lines(report: EvalReport, show: int) -> list[str]:
    """Per scored rule its misses and false alarms (at most ``show`` of each), then the fires no
    label can check (at most ``show``)."""

    def plural(n: int, word: str, many: str = "") -> str:
        return f"{n} {word if n == 1 else many or word + 's'}"

    scored = [r for r in report.rules if r.labelled]
    out: list[str] = []
    for r in scored if show > 0 else ():
        t = r.turn_level
        assert t is not None
        if not (r.misses or r.false_alarms):
            continue
        tol = f"; {r.tolerated} of {t.tp} matches by the next-agent-turn tolerance" if r.tolerated else ""
        out += ["", f"{r.rule}: {plural(t.fn, 'miss', 'misses')}, {plural(t.fp, 'false alarm')}{tol}"]
        for m in r.misses[:show]:
            out.append(
                f"  MISS  {m.conversation} @{m.turn} {m.speaker:<8} {_excerpt(m.text, 100)}"
                + ("  [borderline]" if m.borderline else "")
            )
            for c in m.context:  # what the rule read before the reply it missed
                out.append(f"        @{c.turn:<3} {c.speaker:<8} {_excerpt(c.text, 100)}  [{c.note}]")
        if len(r.misses) > show:
            out.append(f"  … {plural(len(r.misses) - show, 'more miss', 'more misses')} (--show N or all)")
        for f in r.false_alarms[:show]:
            out += _fire_lines("FALSE", f)
        if len(r.false_alarms) > show:
            out.append(f"  … {plural(len(r.false_alarms) - show, 'more false alarm')} (--show N or all)")
    for r in report.rules if show > 0 else ():
        if r.unlabelled_fires:
            where = " (in conversations without labels for it)" if r.labelled else ""
            out += [
                "",
                f"{r.rule}: first {min(show, len(r.unlabelled_fires))} of "
                f"{plural(len(r.unlabelled_fires), 'fire')}{where}",
            ]
            for f in r.unlabelled_fires[:show]:
                out += _fire_lines("FIRE ", f)
    return out


def format_text(report: EvalReport, show: int | None = 10) -> str:
    """The report for people: the table first (and, when labels mark some calls borderline, the
    same without those conversations), then per rule its misses and false alarms (at most
    ``show`` of each; None: all), then fires that no label can check (at most ``show``)."""
    if show is None:
        show = 1 << 30

    def plural(n: int, word: str, many: str = "") -> str:
        return f"{n} {word if n == 1 else many or word + 's'}"

    out = [
        f"{report.source}: {plural(report.conversations, 'conversation')} "
        f"({report.labelled_conversations} labelled), {plural(report.utterances, 'utterance')}, "
        f"{plural(len(report.rules), 'rule')}"
    ]
    if report.labels_without_rule:  # first, where it is seen: a misspelt name scores nothing
        names = [r.rule for r in report.rules]

        def moment(name: str, turns: int) -> str:
            close = difflib.get_close_matches(name, names, n=1)
            return f"{name} ({plural(turns, 'turn')}" + (f"; did you mean {close[0]!r}?)" if close else ")")

        unknown = [(k, v) for k, v in report.labels_without_rule.items() if k not in report.labels_unscored_why]
        if unknown:
            moments = ", ".join(moment(k, v) for k, v in unknown)
            out += textwrap.wrap(
                f"warning: labelled moments with no loaded rule, not scored: {moments}",
                width=100,
                break_on_hyphens=False,
            )
        for name, why in report.labels_unscored_why.items():
            turns = plural(report.labels_without_rule[name], "turn")
            out += textwrap.wrap(
                f"warning: labelled moment {name} ({turns}) not scored: {why}", width=100, break_on_hyphens=False
            )
    scored = [r for r in report.rules if r.labelled]
    unscored = [r for r in report.rules if not r.labelled]
    if scored:
        header = ["rule", "labelled", "P", "R", "F1", "tp/fp/fn", "P", "R", "F1", "tp/fp/fn", "hard-neg", "nudges/conv"]
        rows = []
        for r in scored:
            c, t = r.conversation_level, r.turn_level
            assert c is not None and t is not None
            rows.append(
                [
                    r.rule,
                    str(r.labelled_conversations),
                    _num(c.precision),
                    _num(c.recall),
                    _num(c.f1),
                    f"{c.tp}/{c.fp}/{c.fn}",
                    _num(t.precision),
                    _num(t.recall),
                    _num(t.f1),
                    f"{t.tp}/{t.fp}/{t.fn}",
                    str(r.hard_negative_fires),
                    f"{r.nudges_per_conversation:.3f}",
                ]
            )
        out += ["", *_table(header, rows, [("conversations", 1, 5), ("turns", 6, 9)])]
        out += textwrap.wrap(
            "conversations: did the rule fire in a conversation labelled with the moment. "
            f"turns: {TURN_MATCH}. hard-neg: false alarms on turns listed as hard negatives.",
            width=100,
            break_on_hyphens=False,
        )
        if any(r.borderline_conversations for r in scored):
            header = ["rule", "clear", "P", "R", "F1", "tp/fp/fn", "P", "R", "F1", "tp/fp/fn", "borderline"]
            rows = [
                [
                    r.rule,
                    str(r.labelled_conversations - r.borderline_conversations),
                    *_counts_cells(r.clear_conversation_level),
                    *_counts_cells(r.clear_turn_level),
                    str(r.borderline_conversations),
                ]
                for r in scored
            ]
            out += [
                "",
                "without the conversations whose call on the rule the labels mark borderline:",
                *_table(header, rows, [("conversations", 1, 5), ("turns", 6, 9)]),
            ]
    if unscored:
        out += ["", "no labels for these rules: nudges only" if scored else "nudges per conversation (no labels):"]
        rows = [
            [r.rule, str(r.nudges), f"{r.nudges_per_conversation:.3f}", str(r.conversations_with_nudges)]
            for r in unscored
        ]
        out += _table(["rule", "nudges", "per conv", "convs with"], rows)
    out += detail_lines(report, show)
    if report.timing is not None:
        tm = report.timing
        speed = tm.rules_utterances_per_s
        out += [
            "",
            f"time: spaCy {tm.annotate_s:.2f} s, signals + rules {tm.rules_s:.2f} s"
            + (f" ({speed:,.0f} utterances/s)" if speed else ""),
        ]
    return "\n".join(out) + "\n"


def _counts_json(c: Counts | None) -> dict[str, Any] | None:
    if c is None:
        return None
    d: dict[str, Any] = {"tp": c.tp, "fp": c.fp, "fn": c.fn}
    if c.tn is not None:
        d["tn"] = c.tn
    d.update(precision=c.precision, recall=c.recall, f1=c.f1)
    return d


def _fire_json(f: Fire) -> dict[str, Any]:
    return {
        "conversation": f.conversation,
        "turn": f.turn,
        "fired_at": f.fired_at,
        "message": f.message,
        "hard_negative": f.hard_negative,
        "borderline": f.borderline,
        "evidence": [
            {"turn": e.turn, "speaker": e.speaker, "text": e.text, "matched": list(e.matched), "note": e.note}
            for e in f.evidence
        ],
    }


def report_to_json(report: EvalReport, show: int | None = 10) -> dict[str, Any]:
    """The report for machines (lists cut to ``show`` items each, None: all; the counts give the
    totals). ``clear``: the same levels without the conversations marked borderline for the rule."""
    limit = 1 << 30 if show is None else show
    rules = []
    for r in report.rules:
        rules.append(
            {
                "rule": r.rule,
                "title": r.title,
                "labelled": r.labelled,
                "conversations": r.conversations,
                "labelled_conversations": r.labelled_conversations,
                "nudges": r.nudges,
                "nudges_per_conversation": r.nudges_per_conversation,
                "conversations_with_nudges": r.conversations_with_nudges,
                "conversation_level": _counts_json(r.conversation_level),
                "turn_level": (
                    None if r.turn_level is None else {**(_counts_json(r.turn_level) or {}), "tolerated": r.tolerated}
                ),
                "hard_negative_fires": r.hard_negative_fires,
                "borderline_conversations": r.borderline_conversations,
                "clear": {
                    "conversation_level": _counts_json(r.clear_conversation_level),
                    "turn_level": _counts_json(r.clear_turn_level),
                },
                "misses": [
                    {
                        "conversation": m.conversation,
                        "turn": m.turn,
                        "speaker": m.speaker,
                        "text": m.text,
                        "borderline": m.borderline,
                        "context": [
                            {"turn": c.turn, "speaker": c.speaker, "text": c.text, "note": c.note} for c in m.context
                        ],
                    }
                    for m in r.misses[:limit]
                ],
                "false_alarms": [_fire_json(f) for f in r.false_alarms[:limit]],
                "unlabelled_fires": [_fire_json(f) for f in r.unlabelled_fires[:limit]],
            }
        )
    tm = report.timing
    return {
        "input": report.source,
        "conversations": report.conversations,
        "labelled_conversations": report.labelled_conversations,
        "utterances": report.utterances,
        "turn_match": TURN_MATCH,
        "show": "all" if show is None else show,
        "rules": rules,
        "labels_without_rule": report.labels_without_rule,
        "labels_unscored_why": report.labels_unscored_why,
        "timing": None
        if tm is None
        else {"annotate_s": round(tm.annotate_s, 3), "rules_s": round(tm.rules_s, 3), "utterances": tm.utterances},
    }
