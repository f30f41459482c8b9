"""Annotator stage: spaCy analysis of each utterance (lemmas, dependencies, entities).

The rule engine reads these annotations; nothing downstream re-parses text.

Live capture annotates each utterance as it arrives (``annotate``: one ``nlp(text)`` call,
about 8 ms). A transcript is all there at once, so its replay lets ``annotate_timeline`` read
ahead and annotate a batch with ``nlp.pipe``, which costs about half as much per utterance;
the annotations are the same either way (spaCy's models see each text on its own).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence, TypeVar

from .models import ENTITY_PIPE
from .types import Utterance

if TYPE_CHECKING:  # pragma: no cover
    from spacy.language import Language
    from spacy.tokens import Doc
    from spacy.vocab import Vocab

# a word: a whitespace-separated token with a letter or digit in it ("afternoon,I" is one word,
# a lone "-" or emoji none), as the labelling guide counts them; '#' is a masked digit or letter
# (privacy.py): still said
_WORD_RE = re.compile(r"[^\sA-Za-z0-9#]*[A-Za-z0-9#]\S*")
_Other = TypeVar("_Other")  # timeline items that are not utterances (status, activity marks)


@dataclass(eq=False)
class AnnotatedUtterance:
    """An utterance plus its spaCy ``Doc``.

    ``features`` is where the rules' reading of the Doc (``rules.features.Features``) is kept
    once made, so the conversation signals and the rule engine read each Doc once between them.
    """

    utterance: Utterance
    doc: "Doc"
    features: Any = field(default=None, repr=False)

    @property
    def word_count(self) -> int:
        return len(_WORD_RE.findall(self.utterance.text))

    @property
    def vocab(self) -> "Vocab":
        """The vocabulary of the Doc (its strings)."""
        return self.doc.vocab


class JoinedUtterance(AnnotatedUtterance):
    """An utterance standing for several (a turn so far) whose ``Doc`` is the parts' Docs joined
    (``Doc.from_docs``: each part keeps the reading it was given alone), built on first use:
    the rules mostly read the parts' features joined (``rules.features``), not the Doc."""

    def __init__(
        self, utterance: Utterance, docs: Sequence["Doc"], features: Any = None, line_words: int | None = None
    ) -> None:
        self.utterance = utterance
        self.features = features
        self._docs = list(docs)
        self._doc: "Doc | None" = None
        self._line_words = line_words

    @property
    def line_words(self) -> int:
        """Words in the longest of the utterances it joins (given by who joined them), else all."""
        return self.word_count if self._line_words is None else self._line_words

    @property
    def doc(self) -> "Doc":  # type: ignore[override]
        if self._doc is None:
            from spacy.tokens import Doc

            self._doc = Doc.from_docs(self._docs)
        return self._doc

    @property
    def vocab(self) -> "Vocab":
        """The parts' vocabulary (the joined Doc's), without building the joined Doc."""
        return self._docs[0].vocab if self._doc is None and self._docs else self.doc.vocab


def count_words(text: str) -> int:
    return len(_WORD_RE.findall(text))


class Annotator:
    """Wraps the spaCy pipeline. Pass ``nlp`` to share one loaded pipeline."""

    def __init__(self, nlp: "Language | None" = None) -> None:
        self._entities_asked = False  # the entity recognizer was asked for (and added if it could be)
        if nlp is None:
            from .models import load_spacy

            nlp = load_spacy()
        self.nlp = nlp

    def skipping(self, needs_entities: bool) -> tuple[str, ...]:
        """The pipeline components rules with these needs can do without: the entity recognizer
        (about a third of spaCy's time) when no rule reads entities (``RuleSet.needs_entities``).
        When they do need it and it is not loaded yet (``models.load_spacy`` leaves it out), it
        is loaded now, so a call's first utterance does not wait for it."""
        if needs_entities:
            self._with_entities(())
            return ()
        return (ENTITY_PIPE,)

    def _with_entities(self, skip: Sequence[str]) -> list[str]:
        """spaCy's ``disable`` list for ``skip``: the entity recognizer is added to the pipeline
        the first time an annotation does not skip it (``models.add_entity_recognizer``)."""
        if not self._entities_asked and ENTITY_PIPE not in skip:
            from .models import add_entity_recognizer

            add_entity_recognizer(self.nlp)
            self._entities_asked = True
        return [name for name in skip if name in self.nlp.pipe_names]

    def annotate(self, utterance: Utterance, skip: Sequence[str] = ()) -> AnnotatedUtterance:
        """``skip``: pipeline components not to run (see ``skipping``)."""
        return AnnotatedUtterance(utterance, self.nlp(utterance.text, disable=self._with_entities(skip)))

    def annotate_many(
        self, utterances: Iterable[Utterance], batch_size: int = 64, skip: Sequence[str] = ()
    ) -> Iterator[AnnotatedUtterance]:
        """Annotate in batches (faster for transcripts and batch QA); order is kept."""
        items = list(utterances)
        docs = self.nlp.pipe((u.text for u in items), batch_size=batch_size, disable=self._with_entities(skip))
        for utt, doc in zip(items, docs):
            yield AnnotatedUtterance(utt, doc)

    def annotate_timeline(
        self, items: Iterable[Utterance | _Other], read_ahead: int = 1, skip: Sequence[str] = ()
    ) -> Iterator[AnnotatedUtterance | _Other]:
        """The timeline with each ``Utterance`` annotated, everything in its original order.

        ``read_ahead`` is how many utterances may be taken from ``items`` before the first of
        them is handed on. 1 (live capture, audio replay): each is annotated on its own, as
        soon as it arrives. More (a transcript, where reading ahead delays nothing): up to that
        many are annotated together with ``nlp.pipe``. When ``items`` raises (a bad transcript
        line), the items read before it are still handed on, then the error is raised.
        """
        if read_ahead <= 1:
            for item in items:
                yield self.annotate(item, skip) if isinstance(item, Utterance) else item
            return
        source = iter(items)
        while True:
            batch: list[Utterance | _Other] = []
            n_utterances = 0
            failure: Exception | None = None
            try:
                for item in source:
                    batch.append(item)
                    if isinstance(item, Utterance):
                        n_utterances += 1
                        if n_utterances == read_ahead:
                            break
            except Exception as exc:  # handed on after the items read before it
                failure = exc
            texts = [item.text for item in batch if isinstance(item, Utterance)]
            docs = iter(self.nlp.pipe(texts, batch_size=max(1, len(texts)), disable=self._with_entities(skip)))
            for item in batch:
                yield AnnotatedUtterance(item, next(docs)) if isinstance(item, Utterance) else item
            if failure is not None:
                raise failure
            if n_utterances < read_ahead:
                return
