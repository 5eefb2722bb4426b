"""Memex: the Streamlit entry point. Run with `make run` (or `streamlit run app.py`).

Only navigation lives here; every page is a thin view over memory_core in pages/.
"""

from pathlib import Path

import streamlit as st

from pages.components.review_badge import review_title

ASSETS = Path(__file__).parent / "assets"

st.set_page_config(page_title="Memex", page_icon="🗂️", layout="wide")
st.logo(str(ASSETS / "logo.svg"), icon_image=str(ASSETS / "icon.svg"))
st.html(ASSETS / "app.css")  # style only: nothing is drawn

PAGES = [
    st.Page("pages/chat.py", title="Chat", icon="💬", default=True),
    st.Page("pages/graph.py", title="Graph", icon="🕸️"),
    st.Page("pages/notes.py", title="Notes", icon="🗒️"),
    st.Page("pages/search.py", title="Search", icon="🔎"),
    st.Page("pages/profile.py", title="Profile", icon="🪪"),
    st.Page("pages/review.py", title=review_title(), icon="📥", url_path="review"),
    st.Page("pages/insights.py", title="Insights", icon="📊"),
    st.Page("pages/transfer.py", title="Import / Export", icon="📦"),
    st.Page("pages/settings.py", title="Settings", icon="⚙️"),
]

st.navigation(PAGES).run()
