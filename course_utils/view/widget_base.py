"""view layer · the one convention every lesson widget follows, as a small base class.

A widget's figure is drawn on a `matplotlib.figure.Figure` (not pyplot) and shown as a PNG
in an `ipywidgets.Image`, which updates alike in JupyterLab, Colab and headless tests; its
text goes to one `ipywidgets.HTML` line. Every widget offers:

    .widget    the ipywidgets box to display (a widget is also displayed as the last
               line of a cell, through `_ipython_display_`)
    .figure    the Figure drawn last (None before the first drawing or after `clear`)
    .image     the PNG of that figure (an ipywidgets.Image)
    .message   the text line (an ipywidgets.HTML)
    .n_draws   how many figures have been drawn, for tests

A subclass builds its controls, calls `self.layout(rows...)`, and in its update method
calls `self.new_figure(...)`, draws, then `self.show(fig)`; `self.say(html)` sets the
text line and `self.problem(text)` reports bad input there instead of raising.
"""

import html
import io

import ipywidgets as widgets
from IPython.display import display
from matplotlib.figure import Figure

import course_utils.view.plotting  # noqa: F401  (registers the CJK font for Chinese labels)


class LessonWidget:
    """Base class of the lessons' widgets (see the module docstring for the convention)."""

    dpi = 90

    def __init__(self):
        self.image = widgets.Image(format="png")
        self.message = widgets.HTML()
        self.figure = None
        self.n_draws = 0
        self.widget = None

    def layout(self, *rows) -> widgets.VBox:
        """Stack the control rows, then the text line and the image, into `.widget`."""
        self.widget = widgets.VBox([*rows, self.message, self.image])
        return self.widget

    @staticmethod
    def new_figure(width: float, height: float) -> Figure:
        """A pyplot-free Figure (so nothing is shown twice in a notebook)."""
        return Figure(figsize=(width, height), layout="constrained")

    def show(self, fig: Figure) -> None:
        """Make `fig` the current figure and its PNG the image."""
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=self.dpi)
        self.image.value = buffer.getvalue()
        self.figure = fig
        self.n_draws += 1

    def clear(self) -> None:
        """Remove the figure, so nothing stale stays on screen."""
        self.image.value = b""
        self.figure = None

    def say(self, text_html: str) -> None:
        """Set the text line (HTML: escape any text that came from the learner)."""
        self.message.value = text_html

    def problem(self, text: str) -> None:
        """Report bad input in the widget, in words, instead of raising a traceback."""
        self.message.value = (f"<span class='course-problem' style='color:#b00020'>"
                              f"{html.escape(text)}</span>")

    def _ipython_display_(self):
        display(self.widget)
