"""Consolidation: what the notes add up to, written off the reply path (issue 26, item 5).

Per day and per conversation a *digest* (what the person told and decided, what Memex recommended),
and a *profile* ("what Memex knows about you": people, places, work, likes and dislikes, plans) whose
every line cites the notes it came from. Both are stored as notes (``stored.py`` says why) that recall
leaves out. Built from the person's own words on the bundled model (``extract.py``); a capable model
writes them, line by grounded line (``written.py``, ``grounding.py``). ``run.consolidate`` is the one
way in; the chat runs it when idle without holding up a reply (``chat.consolidating``).
"""

from .extract import Line
from .grounding import judge_line
from .run import ConsolidationReport, consolidate, model_wanted
from .sources import SECTION_TITLES, SECTIONS
from .stored import cited, dismiss, edit_line, edited_by_person, lines_of, section_of

__all__ = ["SECTIONS", "SECTION_TITLES", "ConsolidationReport", "Line", "cited", "consolidate", "dismiss",
           "edit_line", "edited_by_person", "judge_line", "lines_of", "model_wanted", "section_of"]
