"""Memex core library: notes, store, agentic (A-MEM) pipeline, retrieval, model adapters.

No Streamlit import anywhere in this package: the app pages and the ``memex`` CLI are thin views
over it, and it can be used from scripts and benchmarks as is. The packages, from the bottom up
(a package imports only from those above it in this list):

  notes, errors, config   the Note record; the errors a person reads; settings
  models/     llama.cpp adapters (``llm``), sentence embeddings (``embeddings``, ``onnx_minilm``), and
              the model manager (find GGUF files, read their headers, download)
  store/      the event log in Chroma, the fold, derived views (graph, BM25 index, vectors), following
              other writers, migrations
  retrieval/  lexical and dense signals, fusion, link expansion, ``search``, the trace
  memory/     the write path: worth, duplicates, corrections, enrichment, linking, proposals, review
  consolidation/  digests per day and per conversation, and the profile ("what Memex knows about
              you"), built off the reply path from the notes and the conversations
  explore/    view models the pages draw: graph, notes table, as-of and time views, diff, insights,
              review rows, safe rendering
  transfer/   memories in and out: Memex JSON, the LoCoMo format, the import job, the Obsidian vault
  chat/       one chat turn, the prompt, conversations on disk, the background memory writer
  bench/      benchmarks that print figures (``memex bench``), the LoCoMo set
  cli/        the ``memex`` command and ``memex doctor``
"""

__version__ = "0.1.0"
