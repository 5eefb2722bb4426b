"""The memory store: an append-only change log in Chroma, the notes folded from it, derived views.

Modules, each one concept:
  datadir      the data folder's marker and format version
  codec        notes and events <-> Chroma records
  events       the change log (Event, ids, append/read)
  fold         events -> notes, and a changed note -> its events
  views        graph, lexical index (lexical.py: BM25), vectors (derived, in memory)
  following    seeing other writers' events (local processes, a Chroma server)
  sqlite_reader  reading our collections from Chroma's SQLite file, read-only, until the first write
  recall       recall counts, outside the write path
  batch        WriteBatch (what ``writing()`` collects)
  queries / edits / history / forget   the MemoryStore methods, by kind
  compaction   rewriting the Chroma folder so forgotten bytes leave the disk
  migrations   older formats -> this one
  proposals    the review inbox
  memory_store the MemoryStore facade
"""

from . import hygiene  # noqa: F401  (first: see hygiene.py)
from .batch import WriteBatch
from .datadir import FORMAT_VERSION, MARKER_FILE, prepare_data_dir
from .events import Event
from .forget import ForgetReport
from .history import FieldChange
from .memory_store import MemoryStore, close_open_stores, open_store
from .proposals import Proposal, ProposalInbox
from .views import Neighbour, build_graph

__all__ = ["FORMAT_VERSION", "MARKER_FILE", "Event", "FieldChange", "ForgetReport", "MemoryStore", "Neighbour",
           "Proposal", "ProposalInbox", "WriteBatch", "build_graph", "close_open_stores", "open_store", "prepare_data_dir"]
