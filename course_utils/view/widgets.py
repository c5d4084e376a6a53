"""view layer · the interactive widgets of lessons 01-04: move a value, watch attention respond.

Shapes: T number of items/keys/positions · d vector width · d_model model width.

Each widget is a LessonWidget (view/widget_base.py): its arithmetic comes from
course_utils.transformer.intuition (tested without a browser), and moving a control calls
`update()`, which recomputes `result`, rewrites the numbers in `.message` and redraws the
PNG in `.image` (`.figure` is the Figure). Setting a control's `.value` from Python does
the same. Show a widget with `.widget`, or as the last line of a cell.
The `plot_*` functions draw on axes you pass, or on a new pyplot figure.
Their texts are `msg`s shown in the kernel's language (`shown`, view/widget_base.py).
"""

import html

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from course_utils.base.i18n import join_list, msg
from course_utils.transformer.intuition import attention_weights, normalize_weights, weighted_sum
from course_utils.transformer.positional import sinusoidal_encoding
from course_utils.view.widget_base import LessonWidget, shown

# The names of toy_photo's pictures: the dict keys stay English (data), what is drawn is
# translated (`shown("face")` finds this message in the catalogue).
PICTURE_NAMES = (msg("face"), msg("background"))


def toy_photo(size: int = 24) -> dict[str, np.ndarray]:
    """Two grey-scale pictures of the same size for lesson 01: a child's face (a smiley)
    and the background (diagonal stripes). Values in [0, 1].

    Shapes:
        returns {"face": (size, size), "background": (size, size)}.
    """
    y, x = np.mgrid[0:size, 0:size] / (size - 1) * 2 - 1  # coordinates in [-1, 1]
    face = np.zeros((size, size))
    face[x ** 2 + y ** 2 < 0.8 ** 2] = 0.35                      # the head
    for ex in (-0.3, 0.3):                                        # the eyes
        face[(x - ex) ** 2 + (y + 0.25) ** 2 < 0.12 ** 2] = 1.0
    r = np.sqrt(x ** 2 + (y - 0.05) ** 2)                         # the smile
    face[(np.abs(r - 0.45) < 0.08) & (y > 0.15)] = 1.0
    background = ((np.floor((x + y) * 4) % 2) * 0.8 + 0.1)
    return {"face": face, "background": background}


# ---------------------------------------------------------------- 01: weighted sum
def plot_weighted_sum(values: dict, weights, axes=None):
    """Draw every picture with its weight, then the weighted sum. Returns the axes.

    Shapes:
        values: name -> (h, w) picture; weights (T,) with T = len(values).
    """
    names = list(values)
    if axes is None:
        _, axes = plt.subplots(1, len(names) + 1, figsize=(2.6 * (len(names) + 1), 2.9))
    for ax, name, w in zip(axes, names, weights):
        ax.imshow(values[name], cmap="gray", vmin=0, vmax=1)
        ax.set_title(shown(msg("{name}: weight {w:.2f}", name=name, w=w)), fontsize=10)
    mixed = weighted_sum(weights, np.stack([values[n] for n in names]))
    axes[-1].imshow(mixed, cmap="gray", vmin=0, vmax=1)
    axes[-1].set_title(shown(msg("weighted sum")), fontsize=10)
    axes[-1].set_xlabel(" + ".join(f"{w:.2f}·{shown(n)}" for n, w in zip(names, weights)), fontsize=8)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    return axes


class WeightedSumWidget(LessonWidget):
    """One slider per picture sets its raw weight; weights are normalised to sum to 1 and
    the weighted sum of the pictures is redrawn.

    Attributes: `sliders` (name -> FloatSlider), `weights` (normalised, (T,)),
    `result` (the weighted sum), and the LessonWidget ones (`.widget`, `.figure`, ...).
    """

    def __init__(self, values: dict | None = None, raw_weights=None):
        super().__init__()
        self.values = toy_photo() if values is None else dict(values)
        names = list(self.values)
        raw_weights = [0.5] * len(names) if raw_weights is None else list(raw_weights)
        if len(raw_weights) != len(names):
            raise ValueError(f"WeightedSumWidget: {len(names)} pictures but {len(raw_weights)} raw_weights")
        self.sliders = {
            name: widgets.FloatSlider(value=w, min=0.0, max=1.0, step=0.01, description=shown(name),
                                      continuous_update=False, readout_format=".2f")
            for name, w in zip(names, raw_weights)}
        for s in self.sliders.values():
            s.observe(lambda change: self.update(), names="value")
        self.layout(widgets.HTML(shown(msg("<b>Raw weight of each picture</b> (normalised to sum to 1)"))),
                    *self.sliders.values())
        self.update()

    def update(self) -> None:
        names = list(self.values)
        self.weights = normalize_weights([self.sliders[n].value for n in names])
        self.result = weighted_sum(self.weights, np.stack([self.values[n] for n in names]))
        parts = join_list(f"{html.escape(shown(n))} = {w:.2f}" for n, w in zip(names, self.weights))
        self.say(msg("normalised weights: {parts} (sum = {total:.2f})", parts=parts, total=self.weights.sum()))
        fig = self.new_figure(2.6 * (len(names) + 1), 2.9)
        plot_weighted_sum(self.values, self.weights, fig.subplots(1, len(names) + 1))
        self.show(fig)


def weighted_sum_widget(values: dict | None = None, raw_weights=None) -> WeightedSumWidget:
    """Lesson 01: move the weight of each picture and watch the weighted sum change."""
    return WeightedSumWidget(values, raw_weights)


# ---------------------------------------------------------------- 03: positions
def plot_positional(pe, pos: int, dim: int, axes=None):
    """Left: the encoding as a heatmap with one position (row) and one dimension (column)
    marked. Right: that dimension as a wave over positions. Returns the axes.

    Shapes:
        pe (max_len, d_model).
    """
    pe = np.asarray(pe, dtype=float)
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    ax0, ax1 = axes
    im = ax0.imshow(pe, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
    ax0.axhline(pos, color="black", lw=1.2)
    ax0.axvline(dim, color="lime", lw=2)
    ax0.set_xlabel(shown(msg("dimension i")))
    ax0.set_ylabel(shown(msg("position pos")))
    ax0.set_title(shown(msg("PE (row pos={pos}, column i={dim})", pos=pos, dim=dim)))
    ax0.figure.colorbar(im, ax=ax0, fraction=0.046, pad=0.04)
    ax1.plot(np.arange(pe.shape[0]), pe[:, dim], color="tab:orange")
    ax1.plot([pos], [pe[pos, dim]], "ko")
    ax1.set_ylim(-1.1, 1.1)
    ax1.set_xlabel(shown(msg("position pos")))
    ax1.set_ylabel(f"PE[pos, {dim}]")
    ax1.set_title(shown(msg("dimension {dim} ({wave}, wavelength {length:.1f})", dim=dim,
                            wave="sin" if dim % 2 == 0 else "cos",
                            length=2 * np.pi * 10000 ** ((dim - dim % 2) / pe.shape[1]))))
    return axes


class PositionalWidget(LessonWidget):
    """Sliders for a position and a dimension of the sinusoidal encoding; shows the
    value PE[pos, i], the row of the heatmap and the dimension's wave.

    Attributes: `pos_slider`, `dim_slider`, `pe` ((max_len, d_model)), `result`
    (PE[pos, dim]), and the LessonWidget ones (`.widget`, `.figure`, ...).
    """

    def __init__(self, max_len: int = 50, d_model: int = 32, pos: int = 5, dim: int = 0):
        super().__init__()
        self.pe = sinusoidal_encoding(max_len, d_model).numpy()
        self.pos_slider = widgets.IntSlider(value=pos, min=0, max=max_len - 1,
                                            description=shown(msg("position")), continuous_update=False)
        self.dim_slider = widgets.IntSlider(value=dim, min=0, max=d_model - 1,
                                            description=shown(msg("dimension")), continuous_update=False)
        for s in (self.pos_slider, self.dim_slider):
            s.observe(lambda change: self.update(), names="value")
        self.layout(widgets.HBox([self.pos_slider, self.dim_slider]))
        self.update()

    def update(self) -> None:
        pos, dim = self.pos_slider.value, self.dim_slider.value
        self.result = float(self.pe[pos, dim])
        first = ", ".join(f"{x:+.2f}" for x in self.pe[pos, :6])
        self.say(f"PE[{pos}, {dim}] = {self.result:+.3f} &nbsp;·&nbsp; "
                 + msg("first 6 values of PE[{pos}]: [{first}, …]", pos=pos, first=first))
        fig = self.new_figure(10, 3.4)
        plot_positional(self.pe, pos, dim, fig.subplots(1, 2))
        self.show(fig)


def positional_widget(max_len: int = 50, d_model: int = 32, pos: int = 5, dim: int = 0) -> PositionalWidget:
    """Lesson 03: explore the sinusoidal encoding by position and dimension."""
    return PositionalWidget(max_len, d_model, pos, dim)


# ---------------------------------------------------------------- 04: one query
def plot_query(query, keys, key_labels, weights, axes=None, title="softmax(q·k / √d_k)"):
    """Left: the keys and the query as arrows in the plane. Right: the attention weights.
    Returns the axes.

    Shapes:
        query (2,), keys (T, 2), weights (T,).
    """
    query, keys = np.asarray(query, dtype=float), np.asarray(keys, dtype=float)
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    ax0, ax1 = axes
    colors = plt.get_cmap("tab10")(np.arange(len(keys)))
    for key, name, c in zip(keys, key_labels, colors):
        ax0.annotate("", xy=key, xytext=(0, 0), arrowprops=dict(arrowstyle="->", color=c, lw=2))
        ax0.annotate(shown(name), xy=key, xytext=(0, -14 if key[1] < 0 else 8), textcoords="offset points",
                     color=c, ha="center")
    ax0.annotate("", xy=query, xytext=(0, 0), arrowprops=dict(arrowstyle="->", color="black", lw=2.5))
    ax0.annotate(shown(msg("query")), xy=query, xytext=(6, -14), textcoords="offset points", ha="left")
    lim = max(2.5, float(np.abs(np.vstack([keys, query[None]])).max()) * 1.3)
    ax0.set_xlim(-lim, lim)
    ax0.set_ylim(-lim, lim)
    ax0.set_aspect("equal")
    ax0.axhline(0, color="grey", lw=0.5)
    ax0.axvline(0, color="grey", lw=0.5)
    ax0.set_title(shown(msg("query and keys")))
    ax0.set_xlabel(shown(msg("dimension {i}", i=0)))
    ax0.set_ylabel(shown(msg("dimension {i}", i=1)))
    ax1.bar(range(len(keys)), weights, color=colors)
    ax1.set_xticks(range(len(keys)), [shown(name) for name in key_labels])
    ax1.set_ylim(0, 1.12)
    ax1.set_ylabel(shown(msg("attention weight")))
    ax1.set_title(shown(title))
    for i, w in enumerate(weights):
        ax1.text(i, w + 0.02, f"{w:.2f}", ha="center")
    return axes


class QueryWidget(LessonWidget):
    """Two sliders move a 2-D query; the weights over fixed keys are recomputed and shown
    as numbers, arrows and bars. A checkbox switches the 1/√d_k scaling. With
    `show_temperature=True` a third slider sets the softmax temperature; with `values`
    (one number per key) the label also shows the weighted answer sum_j weight_j value_j.

    Attributes: `qx`, `qy` (FloatSliders), `scale_box` (Checkbox), `temperature`
    (FloatLogSlider, or None), `keys`, `result` (the weights, (T,)), `answer` (or None),
    and the LessonWidget ones (`.widget`, `.figure`, `.message`, ...).
    """

    def __init__(self, keys=None, key_labels=None, query=(1.0, 0.0), values=None, show_temperature=False):
        super().__init__()
        self.keys = np.array([[2.0, 0.0], [0.0, 2.0], [-1.5, -1.0]]) if keys is None else np.asarray(keys, float)
        if self.keys.ndim != 2 or self.keys.shape[1] != 2:
            raise ValueError(f"QueryWidget: keys must have shape (T, 2), got {self.keys.shape}")
        self.key_labels = (list(key_labels) if key_labels is not None
                           else [msg("key {i}", i=i) for i in range(len(self.keys))])
        if len(self.key_labels) != len(self.keys):
            raise ValueError(f"QueryWidget: {len(self.keys)} keys but {len(self.key_labels)} key_labels")
        self.values = None if values is None else np.asarray(values, dtype=float)
        if self.values is not None and self.values.shape != (len(self.keys),):
            raise ValueError(f"QueryWidget: values must have shape ({len(self.keys)},), got {self.values.shape}")
        self.qx = widgets.FloatSlider(value=query[0], min=-3, max=3, step=0.1,
                                      description=shown(msg("query[{i}]", i=0)),
                                      continuous_update=False)
        self.qy = widgets.FloatSlider(value=query[1], min=-3, max=3, step=0.1,
                                      description=shown(msg("query[{i}]", i=1)),
                                      continuous_update=False)
        self.scale_box = widgets.Checkbox(value=True, description=shown(msg("divide by √d_k")))
        self.temperature = (widgets.FloatLogSlider(value=1.0, base=10, min=-2, max=2, step=0.1,
                                                   description=shown(msg("temperature")), continuous_update=False)
                            if show_temperature else None)
        controls = [self.qx, self.qy, self.scale_box] + ([self.temperature] if show_temperature else [])
        for w in controls:
            w.observe(lambda change: self.update(), names="value")
        rows = [widgets.HBox([self.qx, self.qy, self.scale_box])]
        if show_temperature:
            rows.append(self.temperature)
        self.layout(*rows)
        self.update()

    @property
    def query(self) -> np.ndarray:
        return np.array([self.qx.value, self.qy.value])

    def update(self) -> None:
        tau = 1.0 if self.temperature is None else self.temperature.value
        self.result = attention_weights(self.query, self.keys, scale=self.scale_box.value, temperature=tau)
        self.answer = None if self.values is None else float(self.result @ self.values)
        scores = self.keys @ self.query
        parts = join_list(shown(msg("{name}: score {score:+.2f} → weight {weight:.2f}",
                                    name=html.escape(shown(n)), score=s, weight=w))
                          for n, s, w in zip(self.key_labels, scores, self.result))
        text = f"q = ({self.qx.value:+.1f}, {self.qy.value:+.1f}) &nbsp;·&nbsp; {parts}"
        if self.temperature is not None:
            text += " &nbsp;·&nbsp; " + shown(msg("temperature {tau:.2f}", tau=tau))
        if self.answer is not None:
            text += " &nbsp;·&nbsp; <b>" + shown(msg("weighted answer {answer:.1f}", answer=self.answer)) + "</b>"
        self.say(text)
        fig = self.new_figure(9, 3.6)
        scores_text = "q·k / √d_k" if self.scale_box.value else "q·k"
        title = f"softmax({scores_text})" if self.temperature is None else f"softmax({scores_text} / {tau:.2f})"
        plot_query(self.query, self.keys, self.key_labels, self.result, fig.subplots(1, 2), title=title)
        self.show(fig)


def query_widget(keys=None, key_labels=None, query=(1.0, 0.0), values=None,
                 show_temperature=False) -> QueryWidget:
    """Lessons 01 and 04: move a query (and the temperature) and watch the attention
    weights over fixed keys (and the weighted answer, if `values` are given)."""
    return QueryWidget(keys, key_labels, query, values, show_temperature)

