"""Custom Streamlit components used by the pages (front-end code next to the Python that mounts it)."""
