"""Drawing primitives for the evidence pack's PDF, on fpdf2 alone (pip-installable, no system
fonts, no browser, no kaleido): headings, wrapped text, tables, bar and line charts.

The PDF core fonts cover Latin-1 only, so text is transliterated (dashes, quotes, arrows,
comparison signs) and anything else becomes '?'; stored text is drawn as plain text, never
interpreted as markup. Charts are drawn with lines and rectangles, with their numbers in a
table next to them, so nothing depends on reading a chart.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

from fpdf import FPDF
from fpdf.enums import WrapMode, XPos, YPos
from fpdf.fonts import FontFace

LATIN = str.maketrans(
    {
        "—": "-",
        "–": "-",
        "‘": "'",
        "’": "'",
        "“": '"',
        "”": '"',
        "…": "...",
        "≥": ">=",
        "≤": "<=",
        "≠": "!=",
        "→": "->",
        "←": "<-",
        "÷": "/",
        "⚠": "!",
        "✓": "v",
        "•": "-",
        "\u00a0": " ",
        "\u2009": " ",
        "\u202f": " ",
    }
)
BLUE = (31, 119, 180)
GREY = (120, 120, 120)
RED = (200, 40, 40)
LIGHT = (235, 238, 242)
CHART_HEIGHT = 48.0


def latin(value: object) -> str:
    """Any value as text the core fonts can draw."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.4g}"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    text = str(value).translate(LATIN)
    return text.encode("latin-1", "replace").decode("latin-1")


class Document(FPDF):
    """An A4 portrait document with a running footer."""

    def __init__(self, footer: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.footer_text = latin(footer)
        self.set_auto_page_break(auto=True, margin=16)
        self.set_margins(15, 15, 15)
        self.set_title(self.footer_text)
        self.set_creator("Vigil")

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", "", 7)
        self.set_text_color(*GREY)
        self.cell(0, 5, f"{self.footer_text} - page {self.page_no()}/{{nb}}", align="C")
        self.set_text_color(0, 0, 0)

    @property
    def width(self) -> float:
        return float(self.w - self.l_margin - self.r_margin)

    def ensure(self, height: float) -> None:
        """Start a new page unless `height` mm still fit on this one."""
        if self.get_y() + height > self.page_break_trigger:
            self.add_page()

    def heading(self, text: str, level: int = 1) -> None:
        size = {0: 18, 1: 14, 2: 11}[level]
        self.ensure(20 if level < 2 else 14)
        self.ln(3 if level else 0)
        self.set_font("Helvetica", "B", size)
        self.multi_cell(self.width, size * 0.5, latin(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1)

    def paragraph(self, text: str, size: float = 9, style: str = "") -> None:
        self.set_font("Helvetica", style, size)
        self.multi_cell(self.width, size * 0.48, latin(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1)

    def mono(self, text: str, size: float = 8) -> None:
        """A hash or identifier on its own line, never broken."""
        self.set_font("Courier", "", size)
        self.cell(self.width, size * 0.5, latin(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1)

    def mono_wrapped(self, text: str, size: float = 7) -> None:
        """A long identifier (a signed JSON line) in fixed width, broken at any character."""
        self.set_font("Courier", "", size)
        self.multi_cell(
            self.width,
            size * 0.5,
            latin(text),
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
            wrapmode=WrapMode.CHAR,
        )
        self.ln(1)

    def grid(
        self,
        header: Sequence[str],
        rows: Sequence[Sequence[object]],
        widths: Sequence[float] | None = None,
        size: float = 7.5,
    ) -> None:
        """A table whose cells wrap; the header repeats on each page."""
        if not rows:
            self.paragraph("None.", style="I")
            return
        self.plain()
        self.set_font("Helvetica", "", size)
        self.ensure(12)
        with self.table(
            col_widths=tuple(widths) if widths else None,
            line_height=size * 0.45,
            text_align="LEFT",
            headings_style=FontFace(emphasis="BOLD", fill_color=LIGHT),
            repeat_headings=1,
            padding=0.8,
        ) as grid:
            head = grid.row()
            for name in header:
                head.cell(latin(name))
            for values in rows:
                row = grid.row()
                for value in values:
                    row.cell(latin(value))
        self.ln(2)

    def plain(self) -> None:
        """Black lines and text, white fill, thin lines: the state tables and text expect."""
        self.set_draw_color(0, 0, 0)
        self.set_fill_color(255, 255, 255)
        self.set_text_color(0, 0, 0)
        self.set_line_width(0.2)
        self.set_dash_pattern()

    def key_values(self, pairs: Sequence[tuple[str, object]]) -> None:
        self.grid(("Field", "Value"), [(k, v) for k, v in pairs], widths=(1, 3))

    def _axes(self, title: str, top: float, low: float, high: float) -> tuple[float, float]:
        """Title, frame and y-axis labels of a chart; returns the plot's left x and top y."""
        self.set_font("Helvetica", "B", 8)
        self.set_xy(self.l_margin, top)
        self.cell(self.width, 4, latin(title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        left, plot_top = self.l_margin + 14, top + 6
        self.set_draw_color(*GREY)
        self.set_line_width(0.2)
        self.rect(left, plot_top, self.width - 14, CHART_HEIGHT)
        self.set_font("Helvetica", "", 6)
        for fraction in (0.0, 0.5, 1.0):
            y = plot_top + CHART_HEIGHT * (1 - fraction)
            self.text(self.l_margin, y + 1, latin(f"{low + (high - low) * fraction:.3g}"))
        return left, plot_top

    def _y(self, value: float, low: float, high: float, plot_top: float) -> float:
        share = 0.0 if high == low else (value - low) / (high - low)
        return plot_top + CHART_HEIGHT * (1 - min(max(share, 0.0), 1.0))

    def _x_labels(self, labels: Sequence[str], left: float, step: float, y: float) -> None:
        self.set_font("Helvetica", "", 5.5)
        every = max(1, math.ceil(len(labels) / 12))
        for index, label in enumerate(labels):
            if index % every == 0:
                self.text(left + step * index + 0.5, y + 3, latin(label))

    def _reference(
        self, value: float | None, low: float, high: float, left: float, top: float, label: str
    ) -> None:
        if value is None or not low <= value <= high:
            return
        y = self._y(value, low, high, top)
        self.set_draw_color(*RED)
        self.set_dash_pattern(dash=1.2, gap=1.0)
        self.line(left, y, self.l_margin + self.width, y)
        self.set_dash_pattern()
        self.set_font("Helvetica", "", 6)
        self.set_text_color(*RED)
        self.text(left + 1, y - 1, latin(label))
        self.set_text_color(0, 0, 0)

    def bar_chart(
        self,
        title: str,
        labels: Sequence[str],
        values: Sequence[float | None],
        *,
        low: float = 0.0,
        high: float | None = None,
        reference: float | None = None,
        reference_label: str = "",
    ) -> None:
        """Bars from `low`; a missing value leaves its slot empty."""
        present = [v for v in values if v is not None]
        top_value = high if high is not None else max([*present, reference or 0.0, 1e-9])
        self.ensure(CHART_HEIGHT + 16)
        left, top = self._axes(title, self.get_y(), low, top_value)
        step = (self.width - 14) / max(len(values), 1)
        self.set_fill_color(*BLUE)
        for index, value in enumerate(values):
            if value is None:
                continue
            y = self._y(value, low, top_value, top)
            self.rect(
                left + step * index + step * 0.15, y, step * 0.7, top + CHART_HEIGHT - y, style="F"
            )
        self._reference(reference, low, top_value, left, top, reference_label)
        self._x_labels(labels, left, step, top + CHART_HEIGHT)
        self.plain()
        self.set_xy(self.l_margin, top + CHART_HEIGHT + 6)

    def line_chart(
        self,
        title: str,
        labels: Sequence[str],
        values: Sequence[float | None],
        *,
        reference: float | None = None,
        reference_label: str = "",
    ) -> None:
        """A line through the present values; gaps where a value is missing."""
        present = [v for v in values if v is not None] + ([reference] if reference else [])
        if not present:
            self.paragraph(f"{title}: no value to draw.", style="I")
            return
        low, high = min(present), max(present)
        pad = (high - low) * 0.1 or 0.05
        low, high = low - pad, high + pad
        self.ensure(CHART_HEIGHT + 16)
        left, top = self._axes(title, self.get_y(), low, high)
        step = (self.width - 14) / max(len(values), 1)
        self.set_draw_color(*BLUE)
        self.set_fill_color(*BLUE)
        self.set_line_width(0.5)
        previous: tuple[float, float] | None = None
        for index, value in enumerate(values):
            if value is None:
                previous = None
                continue
            point = (left + step * (index + 0.5), self._y(value, low, high, top))
            self.circle(point[0] - 0.8, point[1] - 0.8, 0.8, style="F")
            if previous is not None:
                self.line(*previous, *point)
            previous = point
        self.set_line_width(0.2)
        self._reference(reference, low, high, left, top, reference_label)
        self._x_labels(labels, left, step, top + CHART_HEIGHT)
        self.plain()
        self.set_xy(self.l_margin, top + CHART_HEIGHT + 6)
