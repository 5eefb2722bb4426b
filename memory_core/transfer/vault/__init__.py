"""The two-way Markdown vault: export the memory for Obsidian, edit it there, import it back.

``export`` writes it (a zip or a folder, readable file names), ``importer`` reads it back (the same
note is updated, new files become notes, per-file report), ``markdown`` holds the Markdown rules
(front matter, wikilinks, tags, safe names) and ``reader`` reads folders and zips safely.
"""

from .export import (
    INDEX,
    LINKS_MARKER,
    NOTES_DIR,
    ROOT,
    build_vault,
    export_to_dir,
    export_to_path,
    export_vault,
    file_stems,
    note_markdown,
)
from .importer import FileReport, VaultImportReport, import_vault
from .markdown import (
    FrontMatterError,
    hashtags,
    link_text,
    obsidian_tag,
    safe_stem,
    split_front_matter,
    wikilinks,
)


def read_front_matter(text: str) -> tuple[dict, str]:
    """Split a vault note into (front matter, body); raises ValueError when there is none."""
    front, body, had = split_front_matter(text)
    if not had:
        raise ValueError("no front matter")
    return front, body


__all__ = ["INDEX", "LINKS_MARKER", "NOTES_DIR", "ROOT", "FileReport", "FrontMatterError", "VaultImportReport",
           "build_vault", "export_to_dir", "export_to_path", "export_vault", "file_stems", "hashtags",
           "import_vault", "link_text", "note_markdown", "obsidian_tag", "read_front_matter", "safe_stem",
           "split_front_matter", "wikilinks"]
