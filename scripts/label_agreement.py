"""Agreement between two annotators' labels files (the ``bench/data/*_labels.jsonl`` shape).

    .venv/bin/python scripts/label_agreement.py A.jsonl B.jsonl            # table + disagreements
    .venv/bin/python scripts/label_agreement.py A.jsonl B.jsonl --json     # the same as JSON

Only the ids present in both files are compared (in A's order); ids in one file only are
counted and named. Per headline moment, at the conversation level (a conversation is "yes" for a
moment when its list of turns is not empty):

- the 2x2 table: both yes, both no, A only, B only;
- percent agreement and Cohen's kappa, ``(po - pe) / (1 - pe)`` with ``pe`` from each
  annotator's own yes-rate; kappa is undefined (shown "n/a") when ``pe`` is 1, i.e. both
  annotators said the same single answer for every conversation;
- the same again for "clear" conversations only: a conversation is left out for a moment when
  EITHER annotator's notes mark that moment borderline (``<moment> @N, borderline:`` or
  ``<moment> not fired, borderline:``; a ``borderline`` list field wins over notes, as in
  ``rapport_assist.evaluate``);
- among the both-yes conversations, how many have exactly the same turns.

Then every disagreement (conversation level, and both-yes with different turns) by id, with
each annotator's turns and whether either marked it borderline.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from rapport_assist.evaluate import borderline_in_notes  # noqa: E402

HEADLINE = ("angry-no-apology", "you-not-we", "uncommitted-promise", "missed-reflection")


def read_labels(path: Path) -> dict[str, dict]:
    """id -> {"labels": {moment: [turns]}, "borderline": set of moments}, in file order."""
    out: dict[str, dict] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        obj = json.loads(line)
        rid = obj["id"]
        if rid in out:
            raise SystemExit(f"{path}:{n}: id {rid} twice")
        labels = {m: sorted(set(obj.get("labels", {}).get(m, []))) for m in HEADLINE}
        if isinstance(obj.get("borderline"), list):
            border = set(obj["borderline"])
        else:
            border = set(borderline_in_notes(obj.get("notes") or "", HEADLINE))
        out[rid] = {"labels": labels, "borderline": border}
    return out


def cohen_kappa(both_yes: int, both_no: int, a_only: int, b_only: int) -> float | None:
    """Cohen's kappa of a 2x2 table of two raters' yes/no calls; None when undefined
    (no items, or chance agreement 1: both raters gave one and the same answer throughout)."""
    n = both_yes + both_no + a_only + b_only
    if n == 0:
        return None
    po = (both_yes + both_no) / n
    a_yes = (both_yes + a_only) / n
    b_yes = (both_yes + b_only) / n
    pe = a_yes * b_yes + (1 - a_yes) * (1 - b_yes)
    if pe >= 1.0:
        return None
    return (po - pe) / (1 - pe)


@dataclass
class Table:
    both_yes: int = 0
    both_no: int = 0
    a_only: int = 0
    b_only: int = 0
    same_turns: int = 0  # among both_yes
    disagree: list[str] = field(default_factory=list)  # ids, A only / B only
    turn_diff: list[str] = field(default_factory=list)  # ids, both yes on different turns

    def add(self, rid: str, a: list[int], b: list[int]) -> None:
        if a and b:
            self.both_yes += 1
            if a == b:
                self.same_turns += 1
            else:
                self.turn_diff.append(rid)
        elif a:
            self.a_only += 1
            self.disagree.append(rid)
        elif b:
            self.b_only += 1
            self.disagree.append(rid)
        else:
            self.both_no += 1

    @property
    def n(self) -> int:
        return self.both_yes + self.both_no + self.a_only + self.b_only

    @property
    def agreement(self) -> float | None:
        return (self.both_yes + self.both_no) / self.n if self.n else None

    @property
    def kappa(self) -> float | None:
        return cohen_kappa(self.both_yes, self.both_no, self.a_only, self.b_only)

    def as_dict(self) -> dict:
        return {
            "n": self.n,
            "both_yes": self.both_yes,
            "both_no": self.both_no,
            "a_only": self.a_only,
            "b_only": self.b_only,
            "same_turns": self.same_turns,
            "agreement": self.agreement,
            "kappa": self.kappa,
        }


def compare(a: dict[str, dict], b: dict[str, dict]) -> dict:
    ids = [rid for rid in a if rid in b]
    result: dict = {
        "ids": len(ids),
        "only_a": [rid for rid in a if rid not in b],
        "only_b": [rid for rid in b if rid not in a],
        "moments": {},
    }
    for m in HEADLINE:
        every, clear = Table(), Table()
        rows = []
        for rid in ids:
            ta, tb = a[rid]["labels"][m], b[rid]["labels"][m]
            border = [who for who, x in (("A", a), ("B", b)) if m in x[rid]["borderline"]]
            every.add(rid, ta, tb)
            if not border:
                clear.add(rid, ta, tb)
            if bool(ta) != bool(tb) or (ta and tb and ta != tb):
                rows.append(
                    {
                        "id": rid,
                        "a": ta,
                        "b": tb,
                        "borderline": border,
                        "kind": "turns" if ta and tb else ("A only" if ta else "B only"),
                    }
                )
        result["moments"][m] = {"all": every.as_dict(), "clear": clear.as_dict(), "disagreements": rows}
    return result


def _fmt(x: float | None, pct: bool = False) -> str:
    if x is None:
        return "n/a"
    return f"{100 * x:.0f}%" if pct else f"{x:.2f}"


def report(res: dict, name_a: str, name_b: str) -> str:
    out = [
        f"A = {name_a}",
        f"B = {name_b}",
        f"ids in both: {res['ids']} (only in A: {len(res['only_a'])}, only in B: {len(res['only_b'])})",
        "",
    ]
    out.append("| moment | set | n | both yes | both no | A only | B only | agreement | kappa | same turns |")
    out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for m, r in res["moments"].items():
        for key in ("all", "clear"):
            t = r[key]
            out.append(
                f"| {m} | {key} | {t['n']} | {t['both_yes']} | {t['both_no']} | {t['a_only']} | "
                f"{t['b_only']} | {_fmt(t['agreement'], pct=True)} | {_fmt(t['kappa'])} | "
                f"{t['same_turns']}/{t['both_yes']} |"
            )
    out.append("")
    out.append("'clear' leaves out, per moment, conversations either annotator marked borderline for it.")
    for m, r in res["moments"].items():
        if not r["disagreements"]:
            continue
        out.append("")
        out.append(f"{m}: {len(r['disagreements'])} disagreement(s)")
        for d in r["disagreements"]:
            border = f"  borderline: {'+'.join(d['borderline'])}" if d["borderline"] else ""
            out.append(f"  {d['id']:<24} {d['kind']:<7} A {d['a']}  B {d['b']}{border}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a", type=Path, help="first annotator's labels (.jsonl)")
    ap.add_argument("b", type=Path, help="second annotator's labels (.jsonl)")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    args = ap.parse_args(argv)
    res = compare(read_labels(args.a), read_labels(args.b))
    if args.json:
        print(json.dumps(res, indent=1))
    else:
        print(report(res, str(args.a), str(args.b)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
