"""view layer · plotting helpers shared by the lessons: one heatmap for every attention
picture, the eight-step map of the Transformer, and a font that can draw Chinese tokens.

Every text these functions write on a figure is a translatable message (`msg`), drawn
through `translate` in the kernel's language: English in `notebooks/`, Chinese in
`zh/notebooks/` (see course_utils/base/i18n.py). A label the caller passes in (`title=`,
`xlabel=`) goes through `translate` too: a notebook's own string is drawn as it is written
(the Chinese notebook carries its own translation), a `msg` of the package is translated.

Shapes: T_q/T_k query/key positions.
"""

from importlib import resources

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import font_manager
from matplotlib.patches import FancyBboxPatch

from course_utils.base.i18n import msg, translate

# System fonts with Chinese glyphs, tried before the bundled one (mplfonts' Noto Sans CJK SC).
_CJK_CANDIDATES = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "PingFang SC",
                   "Microsoft YaHei", "SimHei", "WenQuanYi Micro Hei", "Heiti SC", "Arial Unicode MS")
_BUNDLED = ("mplfonts", "fonts/NotoSansCJKsc-Regular.otf")


def use_cjk_font() -> str | None:
    """Make matplotlib able to draw Chinese characters; returns the font family used
    (None if no CJK font could be found, in which case Chinese shows as boxes).

    Called on import of this module, so `import course_utils.view.plotting` is enough.
    """
    installed = {f.name for f in font_manager.fontManager.ttflist}
    family = next((name for name in _CJK_CANDIDATES if name in installed), None)
    if family is None:
        try:
            path = resources.files(_BUNDLED[0]) / _BUNDLED[1]
            font_manager.fontManager.addfont(str(path))
            family = font_manager.FontProperties(fname=str(path)).get_name()
        except (ModuleNotFoundError, FileNotFoundError, OSError):
            return None
    current = list(matplotlib.rcParams["font.sans-serif"])
    matplotlib.rcParams["font.sans-serif"] = [family] + [f for f in current if f != family]
    matplotlib.rcParams["font.family"] = "sans-serif"
    matplotlib.rcParams["axes.unicode_minus"] = False  # CJK fonts often lack the minus glyph
    return family


CJK_FONT = use_cjk_font()


def plot_heatmap(matrix, x_labels=None, y_labels=None, ax=None, title=None, xlabel=msg("key"),
                 ylabel=msg("query"), cmap="viridis", vmin=0.0, vmax=None, annotate=None, colorbar=True,
                 fmt="{:.2f}"):
    """Draw a labelled heatmap of a 2-D matrix (attention weights by default: rows are
    queries, columns are keys). Returns the Axes.

    Shapes:
        matrix (T_q, T_k) as a tensor or array; x_labels T_k strings, y_labels T_q strings.
    `annotate=None` writes the numbers into the cells when the matrix is small (<= 12x12).
    """
    m = _to_numpy(matrix)
    if m.ndim != 2:
        raise ValueError(f"plot_heatmap: expected a 2-D matrix (T_q, T_k), got shape {m.shape}")
    for name, labels, n in (("x_labels", x_labels, m.shape[1]), ("y_labels", y_labels, m.shape[0])):
        if labels is not None and len(labels) != n:
            what = "columns" if name[0] == "x" else "rows"
            raise ValueError(f"plot_heatmap: {name} has {len(labels)} labels for {n} {what}")
    if ax is None:
        _, ax = plt.subplots(figsize=(0.55 * m.shape[1] + 2.5, 0.45 * m.shape[0] + 1.8))
    finite = m[np.isfinite(m)]
    vmax = vmax if vmax is not None else (float(finite.max()) if finite.size else 1.0)
    vmin = vmin if vmin is not None else (float(finite.min()) if finite.size else 0.0)
    im = ax.imshow(m, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    ax.set_xticks(range(m.shape[1]), labels=x_labels if x_labels is not None else range(m.shape[1]),
                  rotation=45 if x_labels is not None and max(map(len, map(str, x_labels)), default=0) > 3 else 0,
                  ha="right" if x_labels is not None and max(map(len, map(str, x_labels)), default=0) > 3 else "center")
    ax.set_yticks(range(m.shape[0]), labels=y_labels if y_labels is not None else range(m.shape[0]))
    ax.set_xlabel(translate(xlabel))
    ax.set_ylabel(translate(ylabel))
    if title:
        ax.set_title(translate(title))
    if annotate is None:
        annotate = m.shape[0] <= 12 and m.shape[1] <= 12
    if annotate:
        mid = (vmin + vmax) / 2
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                val = m[i, j]
                text = "nan" if np.isnan(val) else fmt.format(val)
                ax.text(j, i, text, ha="center", va="center", fontsize=8,
                        color="black" if np.isfinite(val) and val > mid else "white")
    if colorbar:
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return ax


def plot_attention(weights, src_tokens=None, tgt_tokens=None, ax=None, title=msg("attention weights"), **kwargs):
    """Attention heatmap: rows are the query tokens (`tgt_tokens`), columns the key tokens
    (`src_tokens`). For self-attention pass the same tokens twice.

    Shapes:
        weights (T_q, T_k); src_tokens T_k strings; tgt_tokens T_q strings.
    """
    return plot_heatmap(weights, x_labels=src_tokens, y_labels=tgt_tokens, ax=ax, title=title, vmin=0.0,
                        vmax=kwargs.pop("vmax", 1.0), **kwargs)


def _to_numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().float().numpy()
    return np.asarray(x, dtype=float)


def plot_transformer_flow(ax=None, highlight=None, src_text=msg("source tokens"),
                          tgt_text=msg("<bos> + target so far")):
    """Draw the encoder-decoder's eight-step macro flow as numbered boxes and arrows.

    `highlight` is a step number 1-8 (or a collection of them) to colour; the texts label
    the two inputs at the bottom. Returns the Axes. Drawn in lessons 00 and 08.
    """
    xe, xd = 0.22, 0.67  # the encoder's and the decoder's column
    steps = {1: (xe, 0.17, msg("source embedding + position")),
             2: (xe, 0.36, msg("multi-head self-attention\n+ residual, LayerNorm")),
             3: (xe, 0.52, msg("feed-forward\n+ residual, LayerNorm")),
             4: (xd, 0.17, msg("target embedding + position")),
             5: (xd, 0.36, msg("masked multi-head self-attention\n+ residual, LayerNorm")),
             6: (xd, 0.50, msg("cross-attention over the memory\n+ residual, LayerNorm")),
             7: (xd, 0.81, msg("linear + softmax\n→ next-token probabilities"))}
    marked = {highlight} if isinstance(highlight, int) else set(highlight or ())
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 7.5))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")

    def box(x, y, text, w=0.36, h=0.09, face="white", edge="black", **kw):
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.01",
                                    facecolor=face, edgecolor=edge, **kw))
        ax.text(x, y, translate(text), ha="center", va="center", fontsize=9.5)

    def arrow(xy_from, xy_to, text=None, **kw):
        ax.annotate("", xy=xy_to, xytext=xy_from,
                    arrowprops=dict(arrowstyle="-|>", color="black", lw=1.3, **kw))
        if text:
            ax.text((xy_from[0] + xy_to[0]) / 2, (xy_from[1] + xy_to[1]) / 2, translate(text), fontsize=9,
                    ha="center", va="center", backgroundcolor="white")

    # the two stacks (frames drawn first, boxes on top)
    for x, y0, y1, name in ((xe, 0.26, 0.595, msg("encoder layer, × N")),
                            (xd, 0.26, 0.655, msg("decoder layer, × N"))):
        ax.add_patch(FancyBboxPatch((x - 0.2, y0), 0.4, y1 - y0, boxstyle="round,pad=0.01",
                                    facecolor="#eef3fb", edgecolor="#7a8fb3", linestyle="--"))
        ax.text(x - 0.19, y0 + 0.006, translate(name), fontsize=8.5, color="#42557a", va="bottom")
    for n, (x, y, text) in steps.items():
        face = "#ffd966" if n in marked else ("#dbe8d4" if n <= 3 else "#f9dccb")
        box(x, y, f"({n}) " + text, face=face)  # a Msg.join: the number stays, the text is translated
    box(xd, 0.615, msg("feed-forward + residual, LayerNorm"), h=0.05, face="#f9dccb")
    box(xe, 0.70, msg("memory  (B, S, d_model)"), h=0.06, face="#dbe8d4")
    box(xe, 0.04, src_text, h=0.05, edge="none", face="none")
    box(xd, 0.04, tgt_text, h=0.05, edge="none", face="none")
    box(xd, 0.95, msg("next token"), w=0.2, h=0.05, face="#ffd966" if 8 in marked else "white")

    for x, ys in ((xe, (0.065, 0.125, 0.215, 0.315, 0.405, 0.475, 0.565, 0.67)),
                  (xd, (0.065, 0.125, 0.215, 0.315, 0.405, 0.455, 0.545, 0.59, 0.64, 0.765, 0.855, 0.925))):
        for y_from, y_to in zip(ys[::2], ys[1::2]):
            arrow((x, y_from), (x, y_to))
    arrow((xe + 0.18, 0.70), (xd - 0.18, 0.50), text=msg("keys, values"))
    ax.annotate("", xy=(xd + 0.09, 0.04), xytext=(xd + 0.1, 0.95),
                arrowprops=dict(arrowstyle="-|>", color="#b45f06", lw=1.6, linestyle="--",
                                connectionstyle="arc3,rad=-0.3"))
    ax.text(0.94, 0.5, translate(msg("(8) append the token, repeat until <eos>")), fontsize=9.5,
            color="#b45f06", ha="right", va="center", rotation=90,
            backgroundcolor="#ffd966" if 8 in marked else "none")
    return ax
