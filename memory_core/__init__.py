"""Memex core library: notes, store, agentic (A-MEM) pipeline, retrieval, model adapters.

No Streamlit import anywhere in this package: the app pages and the ``memex`` CLI are thin views
over it, and it can be used from scripts and benchmarks as is.
"""

__version__ = "0.1.0"
