"""Rapport Assist: a local-first agent-assist sidebar for call centers."""

__version__ = "0.1.0"
