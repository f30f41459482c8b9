"""Rapport Assist: a local-first agent-assist sidebar for call centers."""

from .deferred import defer_unused_imports

__version__ = "0.1.0"

defer_unused_imports()  # PyAV and spaCy's command line: imported when first used (deferred.py)
