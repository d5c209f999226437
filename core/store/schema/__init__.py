"""The migrations, one module each: mNNN_<what>.py with VERSION and SQL; listed in ..migrations."""
