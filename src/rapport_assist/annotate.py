"""Annotator stage: spaCy analysis of each utterance (lemmas, dependencies, entities).

The rule engine reads these annotations; nothing downstream re-parses text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Iterator

from .types import Utterance

if TYPE_CHECKING:  # pragma: no cover
    from spacy.language import Language
    from spacy.tokens import Doc

_WORD_RE = re.compile(r"[A-Za-z0-9']+")


@dataclass(frozen=True, eq=False)
class AnnotatedUtterance:
    """An utterance plus its spaCy ``Doc``."""

    utterance: Utterance
    doc: "Doc"

    @property
    def word_count(self) -> int:
        return len(_WORD_RE.findall(self.utterance.text))


def count_words(text: str) -> int:
    return len(_WORD_RE.findall(text))


class Annotator:
    """Wraps the spaCy pipeline. Pass ``nlp`` to share one loaded pipeline."""

    def __init__(self, nlp: "Language | None" = None) -> None:
        if nlp is None:
            from .models import load_spacy

            nlp = load_spacy()
        self.nlp = nlp

    def annotate(self, utterance: Utterance) -> AnnotatedUtterance:
        return AnnotatedUtterance(utterance, self.nlp(utterance.text))

    def annotate_many(self, utterances: Iterable[Utterance], batch_size: int = 64) -> Iterator[AnnotatedUtterance]:
        """Annotate in batches (faster for transcripts and batch QA); order is kept."""
        items = list(utterances)
        for utt, doc in zip(items, self.nlp.pipe((u.text for u in items), batch_size=batch_size)):
            yield AnnotatedUtterance(utt, doc)
