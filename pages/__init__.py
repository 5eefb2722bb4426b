"""Streamlit pages of Memex (thin views over memory_core); app.py lists them with st.navigation."""
