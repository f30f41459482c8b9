"""The sidebar: a PySide6 view over ``rapport_assist.assist.AssistModel``.

This package is the only one that imports Qt. ``app.run_sidebar`` opens the window; the model,
the attention budget and QA playback live outside (``assist.py``, ``playback.py``) and are
tested without a display.
"""
