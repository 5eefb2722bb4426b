"""Memories in and out: Memex JSON (``memex_json``: export, import, the file format), file detection and
the import job the Import/Export page runs (``imports``), and the two-way Obsidian vault (``vault/``).
"""
