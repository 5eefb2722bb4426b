"""The memory store: an append-only change log in Chroma, the notes folded from it, derived views.

Modules, each one concept:
  datadir      the data folder's marker and format version
  backend      opening Chroma (a folder or a server) and our collections
  codec        notes and events <-> Chroma records
  events       the change log (Event, ids, append/read)
  fold         events -> notes, and a changed note -> its events
  views        graph, lexical index (lexical.py: BM25), vectors (derived, in memory)
  viewstore    the notes view in Chroma (vectors that survive a restart), read and repaired
  following    seeing other writers' events (local processes, a Chroma server)
  sqlite_reader  reading our collections from Chroma's SQLite file, read-only, until the first write
  snapshot     a cache of the fold for fast opens
  recall       recall counts, outside the write path
  note_filter  the one note filter (store.filter, the Notes table, the Graph)
The parts a MemoryStore is composed of, each owning its state:
  connection   Connection: the collections, read-only until the first write, the writers' lock
  live         LiveNotes: the fold, the derived views, following, snapshots
  batch        WriteBatch: what ``writing()`` collects, over a read-only fold
  commit       Writer: ``writing()`` and the commit
  queries / edits / history / forget   Reads, Edits, History, Forgetter
  proposals    ProposalInbox: the review inbox
  memory_store MemoryStore, the facade that composes them
  protocol     Store: what the rest of Memex may use of a store
And: compaction (rewriting the Chroma folder so forgotten bytes leave the disk), migrations.
"""

from . import hygiene  # noqa: F401  (first: see hygiene.py)
from .batch import WriteBatch
from .datadir import FORMAT_VERSION, MARKER_FILE, prepare_data_dir
from .events import Event
from .forget import ForgetReport
from .history import FieldChange
from .memory_store import MemoryStore, close_open_stores, open_store
from .proposals import Proposal, ProposalInbox
from .protocol import Store
from .views import Neighbour, build_graph

__all__ = ["FORMAT_VERSION", "MARKER_FILE", "Event", "FieldChange", "ForgetReport", "MemoryStore", "Neighbour",
           "Proposal", "ProposalInbox", "Store", "WriteBatch", "build_graph", "close_open_stores", "open_store",
           "prepare_data_dir"]
