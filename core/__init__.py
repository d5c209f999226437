"""Vigil's core: every query, statistic, rule and state change. No Streamlit here."""
