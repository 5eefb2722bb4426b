"""The ``memex`` command (``main.py`` runs it, ``parser.py`` reads its arguments, ``*_commands.py`` do them)
and ``memex doctor``.

``memex = memory_core.cli:entry`` is the console script; ``python -m memory_core.cli`` runs the same.
"""

from .main import build_parser, entry, main

__all__ = ["build_parser", "entry", "main"]
