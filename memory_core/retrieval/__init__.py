"""Retrieval: ranked notes for a query, each with its signals and the reason it was returned.

Modules: ``signals`` (lexical and dense, on the note and on note+context), ``fusion`` (min-max),
``graph`` (link expansion, personalized PageRank over notes and entities), ``entities`` (names
found without a model), ``hit`` (the ranked note and its trace), ``retrievers`` (the retrievers
and ``search``), ``trace`` (why each note was recalled, as the Graph and Search pages show it),
``explain`` (why any note is or is not recalled for a query; ``explain_text`` prints it).
"""

from .hit import Hit
from .retrievers import DEFAULT_RETRIEVER, RETRIEVERS, Retriever, make_retriever, search
from .trace import SIGNALS

__all__ = ["DEFAULT_RETRIEVER", "RETRIEVERS", "SIGNALS", "Hit", "Retriever", "make_retriever", "search"]
