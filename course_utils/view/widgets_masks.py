"""view layer · lesson 06's widget: switch the padding and causal masks on and off and
watch the attention weights change.

Shapes: B batch · T sequence length (queries and keys are the same tokens here).

The logic lives in plain functions (`demo_batch`, `build_mask`, `masked_weights`,
`describe_weights`) so tests can drive it without a browser; `MaskExplorer` (a
LessonWidget: `.widget`, `.figure`, `.image`, `.message`) only wires them to checkboxes,
a dropdown, a text summary and a re-drawn heatmap. Its texts are `msg`s shown in the
kernel's language (`shown`, view/widget_base.py); the demo sentences stay English (data).
"""

import html

import ipywidgets as widgets
import torch

from course_utils.base.i18n import msg
from course_utils.transformer.masks import causal_mask, check_mask, padding_mask
from course_utils.view.plotting import plot_attention
from course_utils.view.widget_base import LessonWidget, shown

PAD = "<pad>"

# A tiny padded batch: three sentences of different lengths, padded to the longest.
DEMO_SENTENCES = (
    ("the", "cat", "sat", "on", "the", "mat"),
    ("dogs", "chase", "cats"),
    ("I", "like", "tea", "."),
)


def demo_batch(sentences=DEMO_SENTENCES, d_k: int = 8, seed: int = 0):
    """Pad `sentences` to one length and make seeded self-attention scores for them.

    Returns (tokens, ids, scores): tokens is a list of B lists of T strings (with "<pad>"),
    ids a (B, T) LongTensor with pad id 0, scores (B, T, T) = q k^T / sqrt(d_k) from
    random seeded queries and keys.
    """
    if not sentences or any(len(s) == 0 for s in sentences):
        raise ValueError(f"demo_batch: sentences must be a non-empty list of non-empty token lists, got {sentences!r}")
    T = max(len(s) for s in sentences)
    tokens = [list(s) + [PAD] * (T - len(s)) for s in sentences]
    vocab = {PAD: 0}
    for s in tokens:
        for tok in s:
            vocab.setdefault(tok, len(vocab))
    ids = torch.tensor([[vocab[tok] for tok in s] for s in tokens])  # (B, T)
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(len(tokens), T, d_k, generator=g)
    k = torch.randn(len(tokens), T, d_k, generator=g)
    scores = q @ k.transpose(-2, -1) / d_k**0.5  # (B, T, T)
    return tokens, ids, scores


def build_mask(ids: torch.Tensor, pad_id: int = 0, use_padding: bool = True, use_causal: bool = False):
    """The mask the checkboxes ask for, or None when both are off.

    Shapes:
        ids (B, T) -> bool (B, 1, T) (padding: broadcast over queries), (T, T) (causal),
        or (B, T, T) (both, combined with `&`). True = may attend.
    """
    T = ids.size(1)
    mask = None
    if use_padding:
        mask = padding_mask(ids, pad_id)[:, 0]  # (B, 1, T)
    if use_causal:
        causal = causal_mask(T, ids.device)  # (T, T)
        mask = causal if mask is None else mask & causal  # (B, T, T)
    return mask


def masked_weights(scores: torch.Tensor, mask: torch.Tensor | None, fill: float = float("-inf")):
    """softmax(scores with blocked positions set to `fill`) over the keys.

    Shapes:
        scores (..., T_q, T_k), mask broadcastable to it -> weights (..., T_q, T_k).
    """
    if mask is None:
        return scores.softmax(dim=-1)
    check_mask(mask, scores.size(-2), scores.size(-1))
    return scores.masked_fill(~mask, fill).softmax(dim=-1)


def describe_weights(weights: torch.Tensor, tokens) -> str:
    """A one-line summary of one sentence's weights (T, T): how much weight lands on
    pad keys and on future keys (above the diagonal). A `msg` (English; `shown` translates it)."""
    is_pad = torch.tensor([tok == PAD for tok in tokens])
    real_rows = weights[~is_pad]
    on_pad = real_rows[:, is_pad].sum(-1).max().item() if is_pad.any() else 0.0
    future = torch.triu(weights, diagonal=1).sum(-1).max().item()
    return msg("largest weight on <pad> keys (real-token rows): {on_pad:.3f} · "
               "largest weight on future keys: {future:.3f}", on_pad=on_pad, future=future)


class MaskExplorer(LessonWidget):
    """Checkboxes for the padding and causal masks, a sentence picker, a text summary and
    the attention heatmap, re-drawn on every change.

    Drive it headless by setting `.padding.value`, `.causal.value` or `.sentence.value`;
    `.weights` (T, T), `.message.value`, `.figure` and the PNG in `.image.value` follow.
    Show it with `.widget`.
    """

    def __init__(self, sentences=DEMO_SENTENCES, seed: int = 0):
        super().__init__()
        self.tokens, self.ids, self.scores = demo_batch(sentences, seed=seed)
        self.padding = widgets.Checkbox(value=False, description=shown(msg("padding mask (hide <pad> keys)")),
                                        indent=False)
        self.causal = widgets.Checkbox(value=False, description=shown(msg("causal mask (hide the future)")),
                                       indent=False)
        options = [(" ".join(t for t in toks if t != PAD), i) for i, toks in enumerate(self.tokens)]
        self.sentence = widgets.Dropdown(options=options, value=0, description=shown(msg("sentence")))
        self.weights = None
        for control in (self.padding, self.causal, self.sentence):
            control.observe(self._on_change, names="value")
        self.layout(widgets.HBox([self.padding, self.causal]), self.sentence)
        self.update()

    def _on_change(self, change) -> None:
        self.update()

    def update(self) -> None:
        """Recompute the weights for the current settings and redraw."""
        b = self.sentence.value
        mask = build_mask(self.ids, use_padding=self.padding.value, use_causal=self.causal.value)
        self.weights = masked_weights(self.scores, mask)[b]  # (T, T)
        toks = self.tokens[b]
        on = [name for name, box in ((msg("padding"), self.padding), (msg("causal"), self.causal)) if box.value]
        names = " + ".join(shown(name) for name in on or [msg("none")])
        summary = html.escape(shown(describe_weights(self.weights, toks)))  # "<pad>" is not an HTML tag
        self.say(msg("<b>masks: {names}</b> — {summary}", names=names, summary=summary))
        fig = self.new_figure(5.2, 4.2)
        plot_attention(self.weights, toks, toks, ax=fig.subplots(),
                       title=msg("self-attention weights, masks: {names}", names=names))
        self.show(fig)


def mask_explorer(sentences=DEMO_SENTENCES, seed: int = 0) -> MaskExplorer:
    """Build the explorer; display `explorer.widget` in the notebook."""
    return MaskExplorer(sentences, seed=seed)
