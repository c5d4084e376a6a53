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

Every text a widget shows (control descriptions, the text line, its figure's labels) is
written in English as a `msg` and shown through `shown(...)` (that is, `translate`) when
it is drawn, in the kernel's language: English in `notebooks/`, Chinese in `zh/notebooks/`.
"""

import html
import io

import ipywidgets as widgets
from IPython.display import display
from matplotlib.figure import Figure

import course_utils.view.plotting  # noqa: F401  (registers the CJK font for Chinese labels)
from course_utils.base.i18n import Msg, translate


def shown(text) -> str:
    """`text` (a `msg`, or a plain string) as a plain str in the kernel's language."""
    return str(translate(text))


def reason(err: BaseException) -> str:
    """What an exception says: its `msg` when it was raised with one (so that it can be shown
    translated; `str(err)` would keep only the English), else `str(err)`."""
    first = err.args[0] if len(err.args) == 1 else None
    return first if isinstance(first, Msg) else str(err)


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
        """Set the text line (HTML: escape any text that came from the learner), translated."""
        self.message.value = shown(text_html)

    def problem(self, text: str) -> None:
        """Report bad input in the widget, in words (translated), instead of raising a traceback."""
        self.message.value = (f"<span class='course-problem' style='color:#b00020'>"
                              f"{html.escape(shown(text))}</span>")

    def _ipython_display_(self):
        display(self.widget)
