"""``rapport-assist eval`` on a spoken set: the transcript and audio routes side by side, by time.

A spoken set (made by ``scripts/make_spoken_dev.py``) is a folder with ``spoken.jsonl``: labelled
dialogues whose turns carry their ``start``/``end`` in a recording (``audio``: a stereo file,
agent left, customer right). Each dialogue is run twice through the same rules:

* **transcript route**: the turns as text, one utterance per turn, with the audio's times;
* **audio route**: the recording recognized as ``qa`` does it (tiny.en by default, through the
  same transcript cache), so the utterances are whatever the endpointer and recognizer made.

Labels name turns, and a turn is a span of time on one side. Audio-route nudges are put on turns
by time (``turn_at``): each utterance a nudge rests on (its evidence, and the utterance it fired
at) becomes the turn of the same speaker it overlaps most, a turn's span counting up to
``TIME_TOLERANCE_S`` after its end. Then both routes are scored by the same turn matching as any
labelled dialogue (``evaluate.match_turns``), so the two columns count the same things.

Also measured: WER of the audio route per side against the turn texts (plus the listener's
backchannels, which the recordings contain); the same by turn (each recognized utterance scored
against the turn it falls on, so a word heard in the wrong turn counts, which per side it does
not); and the tone estimate on the customer turns the
generator voiced angry (louder, faster) against the calm ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .annotate import Annotator
from .errors import BadInput, InputNotFound
from .evaluate import (
    CallResult,
    Conversation,
    Counts,
    EvalReport,
    _num,
    _table,
    detail_lines,
    read_dialogues,
    report_to_json,
    run_conversations,
    score_results,
    select_rules,
)
from .rules import RuleSet
from .transcript import json_lines
from .types import Evidence, Nudge, Speaker, Utterance
from .wer import WordErrors, measure

if TYPE_CHECKING:  # pragma: no cover
    from .qa.inputs import CallInput
    from .qa.runner import QaSettings

SET_FILE = "spoken.jsonl"
TIME_TOLERANCE_S = 0.5  # a recognized utterance may end this long after its turn (endpointer hangover)
TIME_MATCH = (
    f"audio-route nudges are put on turns by time: each utterance they rest on goes to the turn of "
    f"its speaker it overlaps most (a turn's span extended by {TIME_TOLERANCE_S} s after its end)"
)


@dataclass(frozen=True, eq=False)
class SpokenDialogue:
    """One dialogue of a spoken set: its turns as utterances (audio times) with the labels, the
    recording, the customer turns voiced angry, and the listener's backchannels."""

    conversation: Conversation
    audio: Path
    voiced_angry: frozenset[int]
    backchannels: tuple[Utterance, ...] = ()


def spoken_set_file(path: Path) -> Path | None:
    """The ``spoken.jsonl`` of a spoken set: ``path`` itself, or inside the folder ``path``."""
    if path.is_dir():
        candidate = path / SET_FILE
        return candidate if candidate.is_file() else None
    return path if path.name == SET_FILE and path.is_file() else None


def read_spoken_set(path: Path) -> list[SpokenDialogue]:
    """The dialogues of a ``spoken.jsonl``; BadInput names ``file:line`` (a missing recording,
    turns without times, a bad ``voiced_angry``)."""
    conversations = {c.id: c for c in read_dialogues(path)}
    out: list[SpokenDialogue] = []
    for _, where, obj in json_lines(path):
        cid = str(obj.get("id"))
        conv = conversations[cid]
        audio = obj.get("audio")
        if not isinstance(audio, str):
            raise BadInput(
                f"{where}: a spoken set's dialogue needs 'audio' (its recording, relative to the file)",
                "regenerate the set with scripts/make_spoken_dev.py",
            )
        audio_path = path.parent / audio
        if not audio_path.is_file():
            raise InputNotFound(
                f"{where}: no recording {audio_path}",
                "regenerate the set with scripts/make_spoken_dev.py --out " + str(path.parent),
            )
        if conv.labels is None:
            raise BadInput(f"{where}: dialogue {cid!r} has no 'labels'", "a spoken set is labelled: add \"labels\"")
        if any(u.timing_estimated for u in conv.utterances):
            raise BadInput(
                f"{where}: every turn needs 'start' and 'end' (its time in the recording)",
                "regenerate the set with scripts/make_spoken_dev.py",
            )
        angry = obj.get("voiced_angry", [])
        if not isinstance(angry, list) or not all(isinstance(i, int) and 0 <= i < len(conv.utterances) for i in angry):
            raise BadInput(
                f"{where}: 'voiced_angry' must list turn numbers (0-based), got {angry!r}",
                "write e.g. \"voiced_angry\": [5]",
            )
        backchannels = tuple(
            Utterance(
                index=-1,
                speaker=Speaker.parse(b["speaker"]),
                text=str(b["text"]),
                start_s=float(b["start"]),
                end_s=float(b["end"]),
            )
            for b in obj.get("backchannels", [])
        )
        out.append(SpokenDialogue(conv, audio_path, frozenset(angry), backchannels))
    return out


# ---------------------------------------------------------------------------- time matching


def turn_at(
    start_s: float, end_s: float, speaker: Speaker, turns: Sequence[Utterance], tolerance_s: float = TIME_TOLERANCE_S
) -> int | None:
    """The index of the turn of ``speaker`` that the span ``start_s``-``end_s`` overlaps most, a
    turn's span counting until ``tolerance_s`` after its end; None when it overlaps none (a
    backchannel, or words the recognizer invented in a silence). A zero-length span (a word
    time) counts when it falls inside."""
    best, best_overlap = None, -1.0
    for i, t in enumerate(turns):
        if t.speaker is not speaker:
            continue
        lo, hi = max(start_s, t.start_s), min(end_s, t.end_s + tolerance_s)
        if hi < lo or (hi == lo and start_s != end_s):
            continue
        if hi - lo > best_overlap:
            best, best_overlap = i, hi - lo
    return best


def utterance_turns(
    utterances: Sequence[Utterance], turns: Sequence[Utterance], tolerance_s: float = TIME_TOLERANCE_S
) -> dict[int, int | None]:
    """Utterance index -> the turn it falls on (``turn_at``), for every utterance."""
    return {u.index: turn_at(u.start_s, u.end_s, u.speaker, turns, tolerance_s) for u in utterances}


def nudge_on_turns(
    nudge: Nudge,
    where: Mapping[int, int | None],
    turns: Sequence[Utterance] | None = None,
    tolerance_s: float = TIME_TOLERANCE_S,
) -> Nudge:
    """``nudge`` with its utterance indices (fired-at and evidence) replaced by turn indices
    (``where``: utterance index -> turn, ``utterance_turns``); -1 for an utterance on no turn,
    which no label can match. Given the ``turns``, each evidence goes by its own span instead:
    a rule that reads turns rests on the whole turn so far (its span, the index of its last
    utterance), and that last utterance alone may be a stray word past the labelled turn's end,
    and the fired-at index follows the evidence with the same index."""

    def turn(i: int) -> int:
        t = where.get(i)
        return -1 if t is None else t

    def placed(e: Evidence) -> int:
        if turns is None:
            return turn(e.utterance_index)
        t = turn_at(e.start_s, e.end_s, e.speaker, turns, tolerance_s)
        return -1 if t is None else t

    evidence = tuple(replace(e, utterance_index=placed(e)) for e in nudge.evidence)
    fired = next(
        (m.utterance_index for e, m in zip(nudge.evidence, evidence) if e.utterance_index == nudge.utterance_index),
        turn(nudge.utterance_index),
    )
    return replace(nudge, utterance_index=fired, evidence=evidence)


# ---------------------------------------------------------------------------- the two routes


@dataclass(frozen=True)
class ToneCase:
    """A customer turn the tone estimate got wrong: voiced angry and not found (``miss``), or
    found angry and voiced calm. ``heard``: the route's utterances on it, each with the label,
    score and evidence of its tone estimate, so the listing says why."""

    dialogue: str
    turn: int
    miss: bool
    said: str
    heard: tuple[tuple[str, str, float, tuple[str, ...]], ...]  # (text, label, score, evidence)


@dataclass(frozen=True)
class ToneScore:
    """The tone estimate on customer turns: ``turns`` counts turns (angry = voiced angry, found =
    some utterance on it estimated 'angry'), ``calls`` counts dialogues (any such turn);
    ``cases`` lists the turns it got wrong."""

    turns: Counts
    calls: Counts
    cases: tuple[ToneCase, ...] = ()


@dataclass(frozen=True)
class SpokenReport:
    source: str
    dialogues: int
    turns: int
    audio_utterances: int
    transcript: EvalReport
    audio: EvalReport
    wer: dict[str, WordErrors]  # "agent", "customer", "pooled", "by-turn"
    tone: dict[str, ToneScore]  # "transcript", "audio"
    tolerance_s: float = TIME_TOLERANCE_S


def _tone(dialogues: Sequence[SpokenDialogue], results: Sequence[CallResult]) -> ToneScore:
    t = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    c = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    cases: list[ToneCase] = []
    for d, res in zip(dialogues, results):
        turns = d.conversation.utterances
        customer = {i for i, u in enumerate(turns) if u.speaker is Speaker.CUSTOMER}
        on_turn: dict[int, list[Utterance]] = {}
        for u in res.utterances:
            k = turn_at(u.start_s, u.end_s, u.speaker, turns) if u.speaker is Speaker.CUSTOMER else None
            if k is not None:
                on_turn.setdefault(k, []).append(u)
        found = {
            k for k, us in on_turn.items() if any(u.signals is not None and u.signals.tone.label == "angry" for u in us)
        }
        found &= customer
        gold = set(d.voiced_angry) & customer
        for k in sorted(found ^ gold):
            heard = tuple(
                (u.text, u.signals.tone.label, u.signals.tone.score, u.signals.tone.evidence)
                if u.signals is not None
                else (u.text, "-", 0.0, ())
                for u in on_turn.get(k, ())
            )
            cases.append(ToneCase(d.conversation.id, k, k in gold, turns[k].text, heard))
        t["tp"] += len(found & gold)
        t["fp"] += len(found - gold)
        t["fn"] += len(gold - found)
        t["tn"] += len(customer - found - gold)
        key = ("tp" if found else "fn") if gold else ("fp" if found else "tn")
        c[key] += 1
    return ToneScore(Counts(**t), Counts(**c), tuple(cases))


def _wer(dialogues: Sequence[SpokenDialogue], recognized: Mapping[str, Sequence[Utterance]]) -> dict[str, WordErrors]:
    out = {"agent": WordErrors(), "customer": WordErrors()}
    for d in dialogues:
        heard = recognized.get(d.conversation.id, ())
        for side in (Speaker.AGENT, Speaker.CUSTOMER):
            said = sorted(
                (u for u in (*d.conversation.utterances, *d.backchannels) if u.speaker is side), key=lambda u: u.start_s
            )
            got = sorted((u for u in heard if u.speaker is side), key=lambda u: u.start_s)
            out[side.value] += measure(" ".join(u.text for u in said), " ".join(u.text for u in got))
    out["pooled"] = out["agent"] + out["customer"]
    out["by-turn"] = sum((_wer_by_turn(d, recognized.get(d.conversation.id, ())) for d in dialogues), WordErrors())
    return out


def _wer_by_turn(dialogue: SpokenDialogue, heard: Sequence[Utterance]) -> WordErrors:
    """Each recognized utterance scored against the turn or backchannel it falls on (``turn_at``);
    words on none count as insertions. A word the recognizer put in the speaker's next utterance
    ("What's your date of | birth? Thank you") is an error here, not in the per-side WER."""
    said = (*dialogue.conversation.utterances, *dialogue.backchannels)
    got: list[list[str]] = [[] for _ in said]
    out = WordErrors()
    for u in sorted(heard, key=lambda u: u.start_s):
        k = turn_at(u.start_s, u.end_s, u.speaker, said)
        if k is None:
            out += measure("", u.text)
        else:
            got[k].append(u.text)
    for turn, texts in zip(said, got):
        out += measure(turn.text, " ".join(texts))
    return out


def evaluate_spoken(
    dialogues: Sequence[SpokenDialogue],
    recognized: Mapping[str, Conversation],
    ruleset: RuleSet,
    annotator: Annotator | None = None,
    rule_ids: Sequence[str] | None = None,
    source: str = "",
) -> SpokenReport:
    """Run each dialogue as text and as recognized audio (``recognized``: dialogue id -> the
    recording's conversation, as ``rapport-assist eval`` reads a recording) and score both by turn."""
    select_rules(ruleset, rule_ids)
    annotator = annotator or Annotator()
    texts = [d.conversation for d in dialogues]
    missing = [c.id for c in texts if c.id not in recognized]
    if missing:
        raise BadInput(
            f"{source}: no recognized audio for {', '.join(missing[:3])}" + (" …" if len(missing) > 3 else ""),
            "check the recordings the set names",
        )
    text_results, text_timing = run_conversations(texts, ruleset, annotator)
    heard = [recognized[c.id] for c in texts]
    audio_results, audio_timing = run_conversations(heard, ruleset, annotator)
    on_turns = []
    for conv, res in zip(texts, audio_results):
        where = utterance_turns(res.utterances, conv.utterances)
        # scored against the turns: the labels and misses read as in the transcript route, the
        # false alarms show the recognized words they rest on
        on_turns.append(
            CallResult(conv, tuple(nudge_on_turns(n, where, conv.utterances) for n in res.nudges), res.utterances)
        )
    return SpokenReport(
        source=source,
        dialogues=len(dialogues),
        turns=sum(len(c.utterances) for c in texts),
        audio_utterances=audio_timing.utterances,
        transcript=score_results(text_results, ruleset, rule_ids, source + " (transcript route)", text_timing),
        audio=score_results(on_turns, ruleset, rule_ids, source + " (audio route)", audio_timing),
        wer=_wer(dialogues, {res.conversation.id: res.utterances for res in audio_results}),
        tone={"transcript": _tone(dialogues, text_results), "audio": _tone(dialogues, audio_results)},
    )


# ---------------------------------------------------------------------------- reports


def _delta(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None else f"{b - a:+.2f}"


def format_spoken(report: SpokenReport, show: int | None = 10) -> str:
    """Per moment P/R/F1 of the two routes side by side (turn level), WER per side, tone; then
    the audio route's misses and false alarms (at most ``show`` each; None: all)."""
    show_n = 1 << 30 if show is None else show
    out = [
        f"{report.source}: {report.dialogues} spoken dialogues, {report.turns} turns; audio route: "
        f"{report.audio_utterances} recognized utterances"
    ]
    rows = []
    for t_rule, a_rule in zip(report.transcript.rules, report.audio.rules):
        if not t_rule.labelled:
            continue
        t, a = t_rule.turn_level, a_rule.turn_level
        assert t is not None and a is not None
        if not (t.tp + t.fn or t.fp or a.fp):  # nothing labelled, nothing fired
            continue
        rows.append(
            [
                t_rule.rule,
                str(t.tp + t.fn),
                _num(t.precision),
                _num(t.recall),
                _num(t.f1),
                f"{t.tp}/{t.fp}/{t.fn}",
                _num(a.precision),
                _num(a.recall),
                _num(a.f1),
                f"{a.tp}/{a.fp}/{a.fn}",
                _delta(t.precision, a.precision),
                _delta(t.recall, a.recall),
            ]
        )
    if rows:
        header = ["moment", "turns", "P", "R", "F1", "tp/fp/fn", "P", "R", "F1", "tp/fp/fn", "dP", "dR"]
        out += ["", *_table(header, rows, [("transcript", 2, 5), ("audio", 6, 9), ("audio-text", 10, 11)])]
        out += ["turn level: " + TIME_MATCH + "."]
    w = report.wer
    out += [
        "",
        "WER of the audio route against the turn texts (and backchannels):  "
        + ",  ".join(f"{side} {_pct(w[side])}" for side in ("agent", "customer", "pooled"))
        + f";  by turn {_pct(w['by-turn'])}",
    ]
    out += ["", "tone: customer turns voiced angry (louder, faster) found as 'angry'; the rest should stay calm"]
    rows = []
    for route in ("transcript", "audio"):
        tone = report.tone[route]
        rows.append(
            [
                route,
                _num(tone.turns.precision),
                _num(tone.turns.recall),
                f"{tone.turns.tp}/{tone.turns.fp}/{tone.turns.fn}/{tone.turns.tn}",
                _num(tone.calls.precision),
                _num(tone.calls.recall),
                f"{tone.calls.tp}/{tone.calls.fp}/{tone.calls.fn}/{tone.calls.tn}",
            ]
        )
    out += _table(["route", "P", "R", "tp/fp/fn/tn", "P", "R", "tp/fp/fn/tn"], rows, [("turns", 1, 3), ("calls", 4, 6)])
    cases = report.tone["audio"].cases
    if cases and show_n > 0:
        misses = [k for k in cases if k.miss]
        out += [
            "",
            f"tone, audio route: {len(misses)} voiced angry not found, {len(cases) - len(misses)} found angry but voiced calm",
        ]
        for kind in (True, False):
            for case in [k for k in cases if k.miss is kind][:show_n]:
                out.append(
                    f"  {'MISS ' if kind else 'FALSE'} {case.dialogue} @{case.turn} customer  {_clip(case.said)}"
                )
                for text, label, score, evidence in case.heard:
                    why = f"  [{'; '.join(evidence)}]" if evidence else ""
                    out.append(f"        {label} {score:.2f}  {_clip(text)}{why}")
                if not case.heard:
                    out.append("        (nothing recognized on this turn)")
    details = detail_lines(report.audio, show_n)
    if details:
        out += ["", "audio route, turn by turn (@N: turn numbers of spoken.jsonl; @-1: on no turn):", *details[1:]]
    return "\n".join(out) + "\n"


def _clip(text: str, width: int = 100) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _pct(w: WordErrors) -> str:
    return "-" if w.wer is None else f"{w.wer:.1%} ({w.errors}/{w.words})"


def spoken_to_json(report: SpokenReport, show: int | None = 10) -> dict[str, Any]:
    def counts(c: Counts) -> dict[str, Any]:
        return {"tp": c.tp, "fp": c.fp, "fn": c.fn, "tn": c.tn, "precision": c.precision, "recall": c.recall}

    return {
        "input": report.source,
        "dialogues": report.dialogues,
        "turns": report.turns,
        "audio_utterances": report.audio_utterances,
        "time_match": TIME_MATCH,
        "transcript": report_to_json(report.transcript, show),
        "audio": report_to_json(report.audio, show),
        "wer": {k: {"errors": v.errors, "words": v.words, "wer": v.wer} for k, v in report.wer.items()},
        "tone": {
            route: {
                "turns": counts(t.turns),
                "calls": counts(t.calls),
                "cases": [
                    {
                        "dialogue": k.dialogue,
                        "turn": k.turn,
                        "kind": "miss" if k.miss else "false_alarm",
                        "said": k.said,
                        "heard": [
                            {"text": h[0], "label": h[1], "score": round(h[2], 3), "evidence": list(h[3])}
                            for h in k.heard
                        ],
                    }
                    for kind in (True, False)
                    for k in [k for k in t.cases if k.miss is kind][: len(t.cases) if show is None else show]
                ],
            }
            for route, t in report.tone.items()
        },
    }


def recognize_set(
    dialogues: Sequence[SpokenDialogue],
    settings: QaSettings,
    discover_options: Mapping[str, Any],
    on_error: Callable[[CallInput, str], None] | None = None,
) -> dict[str, Conversation]:
    """Each dialogue's recording recognized as ``qa`` does it (through its transcript cache):
    dialogue id -> the call as a conversation (its whole timeline), for ``evaluate_spoken``."""
    from .qa.corpus import call_timelines
    from .qa.inputs import discover

    calls, _ = discover([d.audio for d in dialogues], **discover_options, exclude=(settings.cache_dir,))
    by_file = {d.audio.resolve(): d.conversation.id for d in dialogues}
    out: dict[str, Conversation] = {}
    for call, timeline in call_timelines(calls, settings, on_error=on_error):
        cid = by_file.get(call.files[0].resolve(), call.id)
        utterances = tuple(i for i in timeline.items if isinstance(i, Utterance))
        out[cid] = Conversation(
            cid,
            str(call.files[0]),
            utterances,
            timeline=timeline.items,
            audio_s=timeline.audio_s,
            sides=call.spec.sides,
        )
    return out
