"""view layer · lesson 10's widget: type an English sentence, read the model's Chinese
translation, see where it looked.

Shapes: H heads · S source length · T target length (with <bos>/<eos>).

The logic lives in plain functions so tests can drive it without a browser:
`parse_sentence` (tokens, or a message saying what is wrong with the text) and
`grammar_verdict`; the translation and its attention come from the inference module,
course_utils.run.decoding (`translate_with_attention`). `TranslateExplorer` (a
LessonWidget: `.widget`, `.figure`, `.image`, `.message`) wires them to a text box, a
button, layer/head pickers, a text line and a heatmap. Its texts are `msg`s shown in the
kernel's language (`shown`, view/widget_base.py); what the learner types stays English
(the corpus is English → Chinese).
"""

import html

import ipywidgets as widgets

from course_utils.base.i18n import msg
from course_utils.corpus.data import UnknownWordError, english_tokens, joined, reference_translation
from course_utils.run.decoding import translate_with_attention
from course_utils.view.plotting import plot_attention
from course_utils.view.widget_base import LessonWidget, reason, shown

EXAMPLE = "the girl drew five small horses in the garden last night"


def parse_sentence(text: str, src_vocab, max_tokens: int | None = None) -> tuple[list[str] | None, str | None]:
    """Tokenise a typed English sentence as lesson 10 does, with `english_tokens`: capitals
    are lowered and a missing final "." (or "?" for a question) is added.

    Returns (tokens, None) when the sentence can be translated, else (None, message): the
    message names unknown words (suggesting close known ones), punctuation the toy
    grammar lacks ("!", ",", ...), or a sentence longer than `max_tokens`. The message is a
    `msg` (English; `shown` gives it in the notebook's language).
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_sentence: text must be a str, got {type(text).__name__}")
    try:
        tokens = english_tokens(text, src_vocab)
    except UnknownWordError as err:
        marks = [t for t in dict.fromkeys(err.unknown) if not any(ch.isalnum() for ch in t)]
        if marks:
            return None, msg("The toy grammar has no {marks}: its sentences are plain statements ending in '.' "
                             "or questions ending in '?'. Try for example: '{example}'.",
                             marks=joined([repr(m) for m in marks], msg(" or ")), example=EXAMPLE)
        return None, msg("{reason}. Try for example: '{example}'.", reason=reason(err), example=EXAMPLE)
    except ValueError:  # empty sentence
        return None, msg("Type an English sentence first, for example: '{example}'.", example=EXAMPLE)
    if max_tokens is not None and len(tokens) > max_tokens:
        return None, msg("The sentence has {n} tokens; the model reads at most {max_tokens}. Type a shorter one.",
                         n=len(tokens), max_tokens=max_tokens)
    return tokens, None


def grammar_verdict(tokens, result: dict) -> str:
    """Compare a translation with the grammar's own (`reference_translation`), or say that
    the sentence is outside the grammar, where no reference exists. A `msg` (English)."""
    try:
        expected = reference_translation(list(tokens)).tgt
    except ValueError:
        return msg("(not a sentence of the toy grammar: no reference; the model is on its own)")
    if list(expected) == list(result["translation"]):
        return msg("✓ the grammar's translation")
    return msg("✗ the grammar says {expected}", expected="".join(expected))


def plot_cross_attention(result: dict, layer: int = -1, head: int | None = None, ax=None):
    """Heatmap of one layer's cross-attention from `translate_with_attention`: Chinese
    output tokens down the side, English source tokens along the bottom. `head=None`
    averages the heads. Returns the Axes."""
    maps = result["maps"]["cross"]
    weights = maps[layer]  # (H, T, S)
    if head is None:
        weights, which = weights.mean(0), msg("mean of heads")  # (T, S)
    else:
        weights, which = weights[head], msg("head {h}", h=head)  # (T, S)
    n_layers = len(maps)
    layer_no = layer % n_layers
    return plot_attention(weights, result["src_labels"], result["tgt_labels"], ax=ax,
                          title=msg("cross-attention, decoder layer {layer}, {which}", layer=layer_no, which=which),
                          xlabel=msg("English source (keys)"),
                          ylabel=msg("Chinese token being written (row = its query)"))


class TranslateExplorer(LessonWidget):
    """A text box and a Translate button (Enter works too), layer and head pickers, the
    translation as text, and the cross-attention heatmap.

    Drive it headless: set `.text.value` (that translates, as Enter does in a browser) or
    call `.button.click()`; `.result`, `.message.value`, `.figure` and the PNG in
    `.image.value` follow. Text that cannot be translated (unknown words, "!" or ",", too
    long) clears the last translation and its heatmap and says what is wrong in `.message`.
    Show it with `.widget`.
    """

    def __init__(self, model, src_vocab, tgt_vocab, sentence: str = "", max_new_tokens: int = 40):
        super().__init__()
        self.model, self.src_vocab, self.tgt_vocab = model, src_vocab, tgt_vocab
        self.max_new_tokens = max_new_tokens
        self.max_tokens = getattr(getattr(model, "config", None), "max_len", None)
        n_layers = len(model.decoder.layers)
        n_heads = model.decoder.layers[0].cross_attn.n_heads
        self.text = widgets.Text(value=sentence, placeholder=shown(msg("type an English sentence")),
                                 description=shown(msg("English")), continuous_update=False,
                                 layout=widgets.Layout(width="60%"))
        self.button = widgets.Button(description=shown(msg("Translate")), button_style="primary")
        self.layer = widgets.Dropdown(options=[(shown(msg("layer {i}", i=i)), i) for i in range(n_layers)],
                                      value=n_layers - 1, description=shown(msg("layer")))
        # "mean of heads" is -1, not None: a Dropdown whose value is None shows as blank
        self.head = widgets.Dropdown(options=[(shown(msg("mean of heads")), -1)]
                                     + [(shown(msg("head {h}", h=h)), h) for h in range(n_heads)],
                                     value=-1, description=shown(msg("head")))
        self.result = None
        self.button.on_click(lambda _: self.translate())
        # continuous_update=False: the value (and so a translation) changes on Enter or
        # when the box loses focus, not on every keystroke
        self.text.observe(lambda _: self.translate(), names="value")
        for control in (self.layer, self.head):
            control.observe(lambda _: self.redraw(), names="value")
        self.layout(widgets.HBox([self.text, self.button]), widgets.HBox([self.layer, self.head]))
        if sentence:
            self.translate()

    def translate(self) -> None:
        """Tokenise the text box, translate, and redraw (or clear and explain what is wrong)."""
        tokens, problem = parse_sentence(self.text.value, self.src_vocab, self.max_tokens)
        if problem is None:
            try:
                result = translate_with_attention(self.model, self.src_vocab, self.tgt_vocab, tokens,
                                                  self.max_new_tokens)
            except ValueError as err:
                problem = reason(err)
        if problem is not None:
            self.result = None
            self.clear()
            self.problem(problem)
            return
        self.result = result
        self.say(f"<span class='course-translation'>{html.escape(' '.join(tokens))} → "
                 f"<b>{html.escape(result['text'])}</b></span> "
                 f"<span class='course-verdict'>{html.escape(shown(grammar_verdict(tokens, result)))}</span>")
        self.redraw()

    def redraw(self) -> None:
        if self.result is None:
            return
        T, S = len(self.result["tgt_labels"]), len(self.result["src_labels"])
        fig = self.new_figure(0.5 * S + 3.2, 0.4 * T + 2.0)
        plot_cross_attention(self.result, layer=self.layer.value,
                             head=None if self.head.value < 0 else self.head.value, ax=fig.subplots())
        self.show(fig)
