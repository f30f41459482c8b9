"""The English spaCy pipeline as its package ships it (not as ``models.load_spacy`` sets it up),
for tests that compare our pipeline's annotations with the stock one's."""

from __future__ import annotations

import importlib

import pytest

from rapport_assist.models import SPACY_MODELS


def stock_pipeline():
    for name in SPACY_MODELS:
        try:
            return importlib.import_module(name).load()
        except ImportError:
            continue
    pytest.fail("no spaCy model installed")
