"""Errors a person is meant to read.

Every failure Memex expects (bad input, a wrong model path, a broken data folder, a malformed
import) is raised as a MemexError whose message says what happened and what to do. The UI and the
CLI show ``str(error)`` and never a traceback; anything else is a bug.
"""


class MemexError(Exception):
    """Base class: the message is written for the person, not the developer."""


class ConfigError(MemexError):
    """A setting or the settings file is invalid."""


class ModelError(MemexError):
    """A language or embedding model cannot be found, read or loaded."""


class StoreError(MemexError):
    """The data directory or the Chroma database cannot be used safely."""


class InputError(MemexError):
    """Text or arguments a person gave are not acceptable (empty, too long, unknown id)."""


class NotFoundError(InputError):
    """No note has the given id."""


class ImportFormatError(MemexError):
    """A file to import is malformed; nothing was changed."""
