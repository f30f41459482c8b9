"""Every output of the default rules on the development dialogues, one JSON line each: the
check that a speed change left behaviour alone.

Usage:
    .venv/bin/python bench/rules_snapshot.py > before.jsonl
    (change the engine)
    .venv/bin/python bench/rules_snapshot.py > after.jsonl
    diff before.jsonl after.jsonl && echo same

Inputs as ``bench/rules_speed.py`` (default: the two dev sets in ``../shared``, else the bundled
demo transcript). Each dialogue is one call, replayed as ``rapport-assist replay call.jsonl``
replays a transcript (spaCy -> signals -> rules). A line holds the call, then the nudge or
record as its ``to_json`` writes it (message, rewrite, evidence with what matched), without the
rule's file:line (an edit to a rule file moves it).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rules_speed import DEFAULT_FILES, DEMO_TRANSCRIPT, write_transcripts  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", type=Path, help="dialogue JSONL files (default: the dev sets in ../shared)")
    args = ap.parse_args(argv)

    from rapport_assist.annotate import Annotator
    from rapport_assist.pipeline import CallPipeline
    from rapport_assist.rules import RuleEngine, default_rules_dir, load_rules
    from rapport_assist.sources import ReplayInput, open_replay
    from rapport_assist.types import Nudge, RecordItem

    files = args.files or [f for f in DEFAULT_FILES if f.exists()] or [DEMO_TRANSCRIPT]
    if files == [DEMO_TRANSCRIPT]:  # a figure on 16 utterances is not the dev sets' figure: say so
        print(
            f"note: no dev sets at {DEFAULT_FILES[0].parent} (../shared next to the checkout); "
            "measuring the bundled demo transcript only",
            file=sys.stderr,
        )
    pipeline = CallPipeline(Annotator(), RuleEngine(load_rules([default_rules_dir()])))
    n = 0
    with tempfile.TemporaryDirectory() as tmp:
        for corpus in (write_transcripts(f, Path(tmp)) for f in files):
            for path in corpus.transcripts:
                source = open_replay(ReplayInput(path=path), None)
                for event in pipeline.run(source.items(), audio_s=source.audio_s):
                    if isinstance(event, (Nudge, RecordItem)):
                        row = event.to_json()
                        row.pop("rule_source", None)
                        print(
                            json.dumps(
                                {"call": f"{corpus.name}/{path.stem}", **row}, sort_keys=True, ensure_ascii=False
                            )
                        )
                        n += 1
    print(f"{n} outputs", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
