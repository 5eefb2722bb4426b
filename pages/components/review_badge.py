"""The Review entry's title in the navigation, with the number of proposals waiting ("Review (3)").

Called by app.py on every run; it must never stop the app: if the store cannot be opened (the
page itself then says why), the entry is simply "Review".
"""

from __future__ import annotations

from memory_core.explore.reviewlist import nav_title


def review_title() -> str:
    try:
        from pages.common import store

        return nav_title(store().proposals.count("pending"))
    except Exception:  # noqa: BLE001 - a badge is never worth a broken navigation
        return "Review"
