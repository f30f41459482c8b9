"""Rapport Assist: a local-first agent-assist sidebar for call centers."""

from ._compiled import install as _use_compiled_engine
from .deferred import defer_unused_imports

_use_compiled_engine()  # the rule engine compiled by mypyc, when built from these sources (_compiled.py)

__version__ = "0.1.0"

defer_unused_imports()  # PyAV and spaCy's command line: imported when first used (deferred.py)
