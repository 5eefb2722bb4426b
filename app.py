"""Memex: the Streamlit entry point. Run with `make run` (or `streamlit run app.py`).

Only navigation lives here; every page is a thin view over memory_core in pages/.
"""

import streamlit as st

st.set_page_config(page_title="Memex", page_icon="🗂️", layout="wide")

PAGES = [
    st.Page("pages/chat.py", title="Chat", icon="💬", default=True),
    st.Page("pages/graph.py", title="Graph", icon="🕸️"),
    st.Page("pages/notes.py", title="Notes", icon="🗒️"),
    st.Page("pages/search.py", title="Search", icon="🔎"),
    st.Page("pages/insights.py", title="Insights", icon="📊"),
    st.Page("pages/transfer.py", title="Import / Export", icon="📦"),
    st.Page("pages/settings.py", title="Settings", icon="⚙️"),
]

st.navigation(PAGES).run()
