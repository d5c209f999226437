"""User text (group values, attribute names, labels from metadata) shown inside Streamlit
elements that render markdown (st.error, st.caption, ...): escaped, so it reads as typed."""

from __future__ import annotations

import re

# CommonMark's escapable ASCII punctuation: a backslash before any of them prints it as is.
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=&])")


def plain(text: str) -> str:
    """`text` escaped for a markdown-rendering element."""
    return _MARKDOWN.sub(r"\\\1", text)
