"""``python -m rapport_assist``: the ``rapport-assist`` command (as ``python -m rapport_assist.cli``)."""

from .cli import entry_point

if __name__ == "__main__":
    entry_point()
