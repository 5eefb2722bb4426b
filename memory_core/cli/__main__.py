"""``python -m memory_core.cli``: the ``memex`` command."""

from .main import entry

entry()
