"""Schema migrations after the foundation's, one module each: mNNN_<what>.py (VERSION, SQL)."""
