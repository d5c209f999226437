"""The Streamlit shell: login, shared sidebar, navigation. Thin: it calls core and draws."""
