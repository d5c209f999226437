"""PDF primitives: text the core fonts cannot draw is transliterated, stored text is drawn
literally (no markup), tables and charts come out as extractable text on valid pages."""

from __future__ import annotations

import datetime as dt
import io
import re

from pypdf import PdfReader

from vigil.core.evidence.pdf import Document, latin


def _text(pdf: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(pdf))
    return len(reader.pages), re.sub(r"\s+", " ", " ".join(p.extract_text() for p in reader.pages))


def test_latin_transliterates_and_formats() -> None:
    assert latin("a – b — c ≥ 0.8 → ok…") == "a - b - c >= 0.8 -> ok..."
    assert latin("25–34 × female") == "25-34 × female"  # × is Latin-1
    assert latin("snow ☃") == "snow ?"
    assert latin(None) == "-" and latin(True) == "yes" and latin(float("nan")) == "-"
    assert latin(0.123456789) == "0.1235"
    assert latin(dt.datetime(2026, 11, 24, 9, 5)) == "2026-11-24 09:05 UTC"


def test_document_draws_tables_and_charts_as_text() -> None:
    doc = Document("footer text")
    doc.add_page()
    doc.heading("Heading ≥ one", 0)
    doc.paragraph("A rationale with **markdown** and <b>html</b> stays literal.")
    doc.mono("f" * 64)
    doc.grid(("Column", "Value"), [(f"row {i}", i / 3) for i in range(80)])  # spans pages
    doc.bar_chart(
        "Bars", ["a", "b", "c"], [0.2, None, 0.9], high=1.0, reference=0.5, reference_label="line"
    )
    doc.line_chart("Line", ["w1", "w2", "w3", "w4"], [0.7, None, 0.65, 0.72], reference=0.75)
    doc.line_chart("Empty", ["w1"], [None])
    pages, text = _text(bytes(doc.output()))
    assert pages >= 2
    assert "Heading >= one" in text
    assert "A rationale with **markdown** and <b>html</b> stays literal." in text
    assert "f" * 64 in text
    assert "row 0" in text and "row 79" in text and "0.3333" in text
    assert text.count("Column Value") >= 2  # the header repeats on the next page
    assert "Bars" in text and "Line" in text and "Empty: no value to draw." in text
    assert f"footer text - page 1/{pages}" in text
