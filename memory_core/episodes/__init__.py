"""Episodic memory: the conversations as they were lived (who said what, when).

Why a package of its own, below ``chat`` and ``transfer``: the chat writes conversations, the import
of a chat history writes them too, and recall reads them; the record of what was said is the one
source of truth, and anything derived from it (segments, their search index) is rebuilt from it.

Modules: ``conversations`` (the files), ``segments`` (a conversation as episodes), ``index`` (their search
index, derived in memory), ``recall`` (episode hits with their neighbouring turns).
"""
