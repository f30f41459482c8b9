"""``python -m rapport_assist.cli``: the ``rapport-assist`` command."""

from . import entry_point

if __name__ == "__main__":
    entry_point()
