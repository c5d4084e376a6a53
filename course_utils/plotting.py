"""Plotting helpers shared by the lessons: one heatmap for every attention picture, and a
font that can draw Chinese tokens.

Shapes: T_q/T_k query/key positions.
"""

from importlib import resources

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import font_manager

# System fonts with Chinese glyphs, tried before the bundled one (mplfonts' Noto Sans CJK SC).
_CJK_CANDIDATES = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "PingFang SC",
                   "Microsoft YaHei", "SimHei", "WenQuanYi Micro Hei", "Heiti SC", "Arial Unicode MS")
_BUNDLED = ("mplfonts", "fonts/NotoSansCJKsc-Regular.otf")


def use_cjk_font() -> str | None:
    """Make matplotlib able to draw Chinese characters; returns the font family used
    (None if no CJK font could be found, in which case Chinese shows as boxes).

    Called on import of this module, so `import course_utils.plotting` is enough.
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


def plot_heatmap(matrix, x_labels=None, y_labels=None, ax=None, title=None, xlabel="key",
                 ylabel="query", cmap="viridis", vmin=0.0, vmax=None, annotate=None, colorbar=True,
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
            raise ValueError(f"plot_heatmap: {name} has {len(labels)} labels for {n} {'columns' if name[0] == 'x' else 'rows'}")
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
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
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


def plot_attention(weights, src_tokens=None, tgt_tokens=None, ax=None, title="attention weights", **kwargs):
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
