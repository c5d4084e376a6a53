"""Lesson 10's tools for looking inside a trained translator, and its widget: type an
English sentence, read the model's Chinese translation, see where it looked.

Shapes: B batch · H heads · S source length · T target length (with <bos>/<eos>).

The logic lives in plain functions so tests can drive it without a browser:
`parse_sentence` (tokens, or a message naming unknown words), `attention_maps`
(every attention weight of one teacher-forced pass), `translate_with_attention` (greedy
translation plus its cross-attention). `TranslateExplorer` only wires them to a text
box, a button, layer/head pickers, a text line with the translation and a heatmap
(a PNG in an `ipywidgets.Image`).
"""

import html
import io

import ipywidgets as widgets
import torch
from matplotlib.figure import Figure

from course_utils.corpus.data import UnknownWordError, english_tokens, reference_translation
from course_utils.run.decoding import attention_maps, translate_with_attention  # noqa: F401  (lesson 10 imports them from here until it moves to run.decoding)
from course_utils.view.plotting import plot_attention

EXAMPLE = "the girl drew five small horses in the garden last night"


def parse_sentence(text: str, src_vocab) -> tuple[list[str] | None, str | None]:
    """Tokenise a typed English sentence with the data module's `english_tokens`.

    Returns (tokens, None) when every word is in `src_vocab` (a final "." or "?" is added
    if missing), else (None, message): the message names the unknown words, suggests close
    known ones and lists a few words the model knows.
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_sentence: text must be a str, got {type(text).__name__}")
    try:
        return english_tokens(text, src_vocab), None
    except UnknownWordError as err:
        return None, f"{err}. Try for example: '{EXAMPLE}'."
    except ValueError:  # empty sentence
        return None, f"Type an English sentence first, for example: '{EXAMPLE}'."


def grammar_verdict(tokens, result: dict) -> str:
    """Compare a translation with the grammar's own (`reference_translation`), or say that
    the sentence is outside the grammar, where no reference exists."""
    try:
        expected = reference_translation(list(tokens)).tgt
    except ValueError:
        return "(not a sentence of the toy grammar: no reference; the model is on its own)"
    if list(expected) == list(result["translation"]):
        return "✓ the grammar's translation"
    return f"✗ the grammar says {''.join(expected)}"


def plot_cross_attention(result: dict, layer: int = -1, head: int | None = None, ax=None):
    """Heatmap of one layer's cross-attention from `translate_with_attention`: Chinese
    output tokens down the side, English source tokens along the bottom. `head=None`
    averages the heads. Returns the Axes."""
    maps = result["maps"]["cross"]
    weights = maps[layer]  # (H, T, S)
    if head is None:
        weights, which = weights.mean(0), "mean of heads"  # (T, S)
    else:
        weights, which = weights[head], f"head {head}"  # (T, S)
    n_layers = len(maps)
    layer_no = layer % n_layers
    return plot_attention(weights, result["src_labels"], result["tgt_labels"], ax=ax,
                          title=f"cross-attention, decoder layer {layer_no}, {which}",
                          xlabel="English source (keys)", ylabel="Chinese output (queries)")


class TranslateExplorer:
    """A text box and a Translate button (Enter works too), layer and head pickers, the
    translation as text, and the cross-attention heatmap.

    Drive it headless: set `.text.value` (that translates, as Enter does in a browser) or
    call `.button.click()`;
    `.result`, `.message.value`, `.figure` and the PNG in `.image.value` follow. Unknown words leave the last
    translation in place and put a message listing known words in `.message`.
    Show it with `.widget`.
    """

    def __init__(self, model, src_vocab, tgt_vocab, sentence: str = "", max_new_tokens: int = 40):
        self.model, self.src_vocab, self.tgt_vocab = model, src_vocab, tgt_vocab
        self.max_new_tokens = max_new_tokens
        n_layers = len(model.decoder.layers)
        n_heads = model.decoder.layers[0].cross_attn.n_heads
        self.text = widgets.Text(value=sentence, placeholder="type an English sentence",
                                 description="English", continuous_update=False,
                                 layout=widgets.Layout(width="60%"))
        self.button = widgets.Button(description="Translate", button_style="primary")
        self.layer = widgets.Dropdown(options=[(f"layer {i}", i) for i in range(n_layers)],
                                      value=n_layers - 1, description="layer")
        # "mean of heads" is -1, not None: a Dropdown whose value is None shows as blank
        self.head = widgets.Dropdown(options=[("mean of heads", -1)] + [(f"head {h}", h) for h in range(n_heads)],
                                     value=-1, description="head")
        self.message = widgets.HTML()
        self.image = widgets.Image(format="png")
        self.result = None
        self.figure = None
        self.n_draws = 0
        self.button.on_click(lambda _: self.translate())
        # continuous_update=False: the value (and so a translation) changes on Enter or
        # when the box loses focus, not on every keystroke
        self.text.observe(lambda _: self.translate(), names="value")
        for control in (self.layer, self.head):
            control.observe(lambda _: self.redraw(), names="value")
        self.widget = widgets.VBox([widgets.HBox([self.text, self.button]),
                                    widgets.HBox([self.layer, self.head]), self.message, self.image])
        if sentence:
            self.translate()

    def translate(self) -> None:
        """Tokenise the text box, translate, and redraw (or explain what is wrong)."""
        tokens, problem = parse_sentence(self.text.value, self.src_vocab)
        if problem is not None:
            self.message.value = f"<span class='course-unknown'>{html.escape(problem)}</span>"
            return
        self.result = translate_with_attention(self.model, self.src_vocab, self.tgt_vocab, tokens,
                                               self.max_new_tokens)
        self.message.value = (f"<span class='course-translation'>{html.escape(' '.join(tokens))} → "
                              f"<b>{html.escape(self.result['text'])}</b></span> "
                              f"<span class='course-verdict'>{html.escape(grammar_verdict(tokens, self.result))}</span>")
        self.redraw()

    def redraw(self) -> None:
        if self.result is None:
            return
        T, S = len(self.result["tgt_labels"]), len(self.result["src_labels"])
        fig = Figure(figsize=(0.5 * S + 3.2, 0.4 * T + 2.0), layout="constrained")
        plot_cross_attention(self.result, layer=self.layer.value,
                             head=None if self.head.value < 0 else self.head.value, ax=fig.subplots())
        self.figure = fig
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=90)
        self.image.value = buffer.getvalue()  # a PNG updates alike in JupyterLab, Colab and tests
        self.n_draws += 1

