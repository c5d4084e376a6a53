"""view layer · lesson 08's step-through widget: type an English sentence and walk it
through the trained translator one of the eight steps at a time.

Shapes: S source length · T target length (with <bos>) · H heads · d_model · V target vocab.

The logic lives in plain functions so tests can drive it without a browser:
`parse_input` (tokens, or a message saying what is wrong with the text) and `trace_steps`
(runs the sentence through the model by hand and keeps the intermediate tensor of every
step). `StepExplorer` only wires them to a text box, a Run button, a step slider with
Previous/Next buttons, a text panel and a re-drawn figure; it follows the lessons' widget
convention (`LessonWidget`: a PNG in an `ipywidgets.Image`, which updates alike in
JupyterLab, Colab and headless tests).

The trace runs the decoder twice on purpose: step 8 is the autoregressive loop (one model
call per new token), and steps 4-7 are shown as ONE teacher-forced pass over `<bos>` + the
loop's own output, the form used in training. `trace["loop_vs_pass"]` is the largest
difference between the two sets of logits: rounding error, because they compute the same thing.

Texts are `msg`s in the kernel's language: `trace_steps` writes each `Step`'s texts in it (so
a notebook that prints them prints Chinese in `zh/notebooks/`), the widget's controls and
messages are shown through `shown`. The input stays English (the corpus is English → Chinese).
"""

import html
import math
from dataclasses import dataclass

import ipywidgets as widgets
import torch

from course_utils.base.i18n import msg
from course_utils.corpus.data import english_tokens
from course_utils.run.decoding import inference
from course_utils.transformer.masks import causal_mask, padding_mask
from course_utils.view.plotting import plot_attention, plot_heatmap, plot_transformer_flow
from course_utils.view.widget_base import LessonWidget, reason, shown

EXAMPLE = "the dog sees the black letter every day"
STEP_TITLES = {
    1: msg("source embedding + position"),
    2: msg("encoder self-attention"),
    3: msg("feed-forward → memory"),
    4: msg("target embedding + position"),
    5: msg("masked self-attention"),
    6: msg("cross-attention over the memory"),
    7: msg("linear + softmax → next-token probabilities"),
    8: msg("the autoregressive loop"),
}


@dataclass
class Step:
    """What one step computed: an explanation, the shapes, and the tensor(s) to draw.

    `panels` is a list of (matrix (rows, cols), row labels, column labels, title); the
    attention steps have one panel per layer.
    """
    number: int
    title: str
    text: str
    shapes: list
    panels: list
    kind: str  # "features" (any real numbers), "weights" or "probabilities" (rows sum to 1), "grid" (0/1)
    xlabel: str = ""
    ylabel: str = ""


def parse_input(text, src_vocab, max_len: int) -> tuple[list[str] | None, str | None]:
    """Tokenise a typed sentence for the model.

    Returns (tokens, None), with a final "." or "?" added if missing, or (None, message)
    when the text is empty, has words the model does not know, or is longer than
    `max_len` tokens (the longest input the model's positional encoding covers). The
    message is a `msg` (English; `shown` gives it in the notebook's language).
    """
    if not isinstance(text, str):
        return None, msg("Expected text, got {kind}. Type an English sentence such as '{example}'.",
                         kind=type(text).__name__, example=EXAMPLE)
    if not text.strip():
        return None, msg("The text box is empty. Type an English sentence, for example '{example}'.",
                         example=EXAMPLE)
    try:
        tokens = english_tokens(text, src_vocab)
    except ValueError as err:  # UnknownWordError is a ValueError
        return None, msg("{reason}. Try for example: '{example}'.", reason=reason(err), example=EXAMPLE)
    if len(tokens) > max_len:
        return None, msg("The sentence has {n} tokens; this model reads at most {max_len}. "
                         "Type a shorter one, for example '{example}'.", n=len(tokens), max_len=max_len,
                         example=EXAMPLE)
    return tokens, None


def _layer_weights(module, where: str) -> torch.Tensor:
    weights = module.last_weights
    if weights is None:
        raise ValueError(f"trace_steps: the {where} attention kept no weights (the fused kernel does not "
                         f"return them); switch fast attention off for this model first")
    return weights[0]  # (H, T_q, T_k)


def trace_steps(model, src_vocab, tgt_vocab, tokens, max_new_tokens: int | None = None) -> dict:
    """Run one tokenised English sentence through `model` step by step.

    Returns {"src_labels", "tgt_labels" (<bos> + output, what the decoder reads),
    "output" (the translation's tokens, without <eos>), "text", "stopped" (True if <eos>
    came before the length limit), "loop_vs_pass" (largest |difference| between the
    loop's and the single pass's logits), "steps" (eight `Step`s, numbered 1-8)}.

    Shapes:
        internally src (1, S), tgt_in (1, T); memory (1, S, d_model); logits (1, T, V).
    """
    config = model.config
    unknown = [t for t in tokens if t not in src_vocab]
    if not tokens or unknown:
        raise ValueError(f"trace_steps: tokens must be a non-empty list of known words, got {tokens!r}")
    if len(tokens) > config.max_len:
        raise ValueError(f"trace_steps: {len(tokens)} tokens, more than max_len={config.max_len}")
    if max_new_tokens is None:
        max_new_tokens = min(config.max_len - 1, 2 * len(tokens) + 10)
    bos_id, eos_id = tgt_vocab.bos_id, tgt_vocab.eos_id
    src = torch.tensor([src_vocab.encode(tokens)])  # (1, S)
    src_labels = list(tokens)
    with inference(model):  # eval mode, no autograd; the model's own mode comes back afterwards
        # steps 1-3: the encoder, layer by layer
        src_mask = padding_mask(src, config.pad_id)  # (1, 1, 1, S)
        x = model.src_pos(model.src_embed(src) * math.sqrt(config.d_model))  # (1, S, d_model)
        embedded_src = x[0]
        enc_weights = []
        for layer in model.encoder.layers:
            x = layer(x, src_mask)
            enc_weights.append(_layer_weights(layer.self_attn, "encoder self-"))
        memory = model.encoder.norm(x)  # (1, S, d_model)

        # step 8: the loop, one decoder call per new token, fed its own output
        ys, loop_logits, loop_rows = [bos_id], [], []
        for _ in range(max_new_tokens):
            logits = model.decode(torch.tensor([ys]), memory, src_mask)  # (1, len(ys), V)
            probs = logits[0, -1].softmax(-1)
            next_id = int(probs.argmax())
            loop_logits.append(logits[0, -1])
            loop_rows.append((len(ys), next_id, float(probs[next_id])))
            ys.append(next_id)
            if next_id == eos_id:
                break
        stopped = ys[-1] == eos_id

        # steps 4-7: ONE teacher-forced pass over <bos> + the loop's output (training form)
        tgt_in = torch.tensor([ys[:-1]])  # (1, T): what the decoder reads
        T = tgt_in.size(1)
        tgt_mask = padding_mask(tgt_in, config.pad_id) & causal_mask(T)  # (1, 1, T, T)
        y = model.tgt_pos(model.tgt_embed(tgt_in) * math.sqrt(config.d_model))  # (1, T, d_model)
        embedded_tgt = y[0]
        self_weights, cross_weights = [], []
        for layer in model.decoder.layers:
            y = layer(y, memory, tgt_mask, src_mask)
            self_weights.append(_layer_weights(layer.self_attn, "decoder self-"))
            cross_weights.append(_layer_weights(layer.cross_attn, "cross-"))
        logits = model.out_proj(model.decoder.norm(y))  # (1, T, V)
        probs = logits[0].softmax(-1)  # (T, V)

    loop_vs_pass = (torch.stack(loop_logits) - logits[0]).abs().max().item()
    tgt_labels = tgt_vocab.decode(ys[:-1], strip_special=False)
    produced = tgt_vocab.decode(ys[1:], strip_special=False)
    output = [t for t in produced if t != "<eos>"]
    H = enc_weights[0].size(0)
    n_layers = len(enc_weights)
    S, d, V = len(src_labels), config.d_model, config.tgt_vocab_size
    feature_cols = [str(i) if i % 8 == 0 else "" for i in range(d)]

    def per_layer(weights, rows, cols, name):
        return [(w.mean(0), rows, cols, shown(msg("{name}, layer {i} (mean of {H} heads)", name=name, i=i, H=H)))
                for i, w in enumerate(weights)]

    def token(i):
        return tgt_vocab.decode([i], strip_special=False)[0]

    # step 7's columns: the tokens the model chose, in order, each once
    chosen = list(dict.fromkeys(ys[1:]))
    # Every text is written in the kernel's language now (`shown`): a notebook may print it.
    steps = [
        Step(1, shown(STEP_TITLES[1]),
             shown(msg("Each English token id becomes a {d}-number vector (its embedding, times √{d}), plus the "
                       "positional encoding of its place. One row per source token.", d=d)),
             [shown(msg("src ids (1, {S})", S=S)),
              shown(msg("embedding × √d_model + position → (1, {S}, {d})  (B, S, d_model)", S=S, d=d))],
             [(embedded_src, src_labels, feature_cols, shown(msg("source vectors")))], "features",
             xlabel=shown(msg("feature (d_model)")), ylabel=shown(msg("source token"))),
        Step(2, shown(STEP_TITLES[2]),
             shown(msg("In each of the {n_layers} encoder layers every source token attends to every source token "
                       "(no causal mask: the whole sentence is known). Rows are queries, columns keys; each row "
                       "sums to 1.", n_layers=n_layers)),
             [shown(msg("weights per layer (1, {H}, {S}, {S})  (B, H, S, S)", H=H, S=S)),
              shown(msg("output (1, {S}, {d})", S=S, d=d))],
             per_layer(enc_weights, src_labels, src_labels, msg("encoder self-attention")), "weights",
             xlabel=shown(msg("source token (key)")), ylabel=shown(msg("source token (query)"))),
        Step(3, shown(STEP_TITLES[3]),
             shown(msg("The position-wise feed-forward network (with residual and LayerNorm) ends each encoder "
                       "layer. The last layer's output is the memory (the note's 中间表达), computed once and "
                       "reused at every step.")),
             [shown(msg("memory (1, {S}, {d})  (B, S, d_model)", S=S, d=d))],
             [(memory[0], src_labels, feature_cols, shown(msg("memory")))], "features",
             xlabel=shown(msg("feature (d_model)")), ylabel=shown(msg("source token"))),
        Step(4, shown(STEP_TITLES[4]),
             shown(msg("The decoder reads <bos> (the note's <SOS>) plus the Chinese tokens so far. Shown here in "
                       "the training form: all {T} positions at once, the model's own output shifted right by one.",
                       T=T)),
             [shown(msg("tgt_in ids (1, {T})", T=T)),
              shown(msg("embedding × √d_model + position → (1, {T}, {d})  (B, T, d_model)", T=T, d=d))],
             [(embedded_tgt, tgt_labels, feature_cols, shown(msg("target vectors")))], "features",
             xlabel=shown(msg("feature (d_model)")), ylabel=shown(msg("target token"))),
        Step(5, shown(STEP_TITLES[5]),
             shown(msg("Each target position attends to itself and earlier positions only (the causal mask hides "
                       "the upper triangle). Rows are queries, columns keys.")),
             [shown(msg("weights per layer (1, {H}, {T}, {T})  (B, H, T, T)", H=H, T=T))],
             per_layer(self_weights, tgt_labels, tgt_labels, msg("masked self-attention")), "weights",
             xlabel=shown(msg("target token read (key)")), ylabel=shown(msg("target token read (query)"))),
        Step(6, shown(STEP_TITLES[6]),
             shown(msg("Queries come from the decoder (rows: target tokens), keys and values from the memory "
                       "(columns: source tokens). This is where the Chinese side reads the English sentence.")),
             [shown(msg("weights per layer (1, {H}, {T}, {S})  (B, H, T, S)", H=H, T=T, S=S)),
              shown(msg("output (1, {T}, {d})", T=T, d=d))],
             per_layer(cross_weights, tgt_labels, src_labels, msg("cross-attention")), "weights",
             xlabel=shown(msg("source token (key)")), ylabel=shown(msg("target token read (query)"))),
        Step(7, shown(STEP_TITLES[7]),
             shown(msg("A linear layer gives {V} scores per position, softmax turns them into probabilities. "
                       "Row t is the prediction for the token after row t's token; only the columns of the chosen "
                       "tokens are drawn.", V=V)),
             [f"logits (1, {T}, {V})  (B, T, V)", shown(msg("probabilities: each row sums to 1"))],
             [(probs[:, chosen], tgt_labels, tgt_vocab.decode(chosen, strip_special=False),
               shown(msg("next-token probability")))], "probabilities",
             xlabel=shown(msg("candidate next token")), ylabel=shown(msg("decoder reads"))),
        Step(8, shown(STEP_TITLES[8]),
             shown(msg("Translating, there is no reference: start from <bos>, take the most likely token, append "
                       "it, run steps 4-7 again, until <eos> (the note's <EOS>){or_limit}. {calls} decoder calls "
                       "here. Their logits equal the single pass of steps 4-7 (largest difference {diff:.1e}): "
                       "training computes what translation computes.",
                       or_limit="" if stopped else msg(" or the length limit"), calls=len(loop_rows),
                       diff=loop_vs_pass)),
             [shown(msg("call {k}: input (1, {n}) → logits (1, {n}, {V}) → {token} ({p:.0%})",
                        k=k + 1, n=n, V=V, token=token(i), p=p)) for k, (n, i, p) in enumerate(loop_rows)],
             [(torch.tensor([[1.0 if j < n else 0.0 for j in range(len(ys) - 1)] for n, _, _ in loop_rows]),
               [shown(msg("call {k} → {token}", k=k + 1, token=token(i))) for k, (_, i, _) in enumerate(loop_rows)],
               tgt_labels, shown(msg("tokens fed to the decoder at each call")))], "grid",
             xlabel=shown(msg("decoder input position")), ylabel=shown(msg("decoder call → chosen token"))),
    ]
    return {"src_labels": src_labels, "tgt_labels": tgt_labels, "output": output, "text": "".join(output),
            "stopped": stopped, "loop_vs_pass": loop_vs_pass, "steps": steps}


def draw_step(step: Step, fig=None, show_flow: bool = True):
    """Draw one step: the eight-step map with this step highlighted (optional) and its
    tensor(s) as heatmaps. Returns the Figure."""
    n = len(step.panels)
    if fig is None:
        rows, cols = step.panels[0][0].shape
        fig = LessonWidget.new_figure(5.0 * show_flow + min(5.5 * n, 12), max(4.4, 0.32 * rows + 2.2))
    axes = fig.subplots(1, n + show_flow, squeeze=False,
                        width_ratios=([1.0] if show_flow else []) + [1.0] * n)[0]
    if show_flow:
        plot_transformer_flow(ax=axes[0], highlight=step.number, src_text=msg("English"),
                              tgt_text=msg("<bos> + Chinese"))
        for text in axes[0].texts:
            text.set_fontsize(6)
        axes = axes[1:]
    for ax, (matrix, rows, cols, title) in zip(axes, step.panels):
        if step.kind in ("weights", "probabilities"):
            plot_attention(matrix, cols, rows, ax=ax, title=title, xlabel=step.xlabel, ylabel=step.ylabel,
                           annotate=None if step.kind == "probabilities" else False, colorbar=ax is axes[-1])
        elif step.kind == "grid":
            plot_heatmap(matrix, cols, rows, ax=ax, title=title, xlabel=step.xlabel, ylabel=step.ylabel,
                         cmap="Greens", vmin=0, vmax=1, annotate=False, colorbar=False)
        else:
            top = float(matrix.abs().max()) or 1.0
            plot_heatmap(matrix, cols, rows, ax=ax, title=title, xlabel=step.xlabel, ylabel=step.ylabel,
                         cmap="RdBu_r", vmin=-top, vmax=top, annotate=False)
    fig.suptitle(shown(msg("step {n}: {title}", n=step.number, title=step.title)))
    return fig


class StepExplorer(LessonWidget):
    """A text box with a Run button, a step slider with Previous/Next buttons, a text panel
    (what the step does, its shapes), the translation line and the step's figure.

    Drive it headless: set `.text.value` (that runs it, as Enter does in a browser) or
    call `.button.click()`; set `.step.value` or click `.next`/`.previous`. `.trace`,
    `.message.value`, `.details.value`, `.figure` and the PNG in `.image.value` follow.
    Bad input clears the figure and the step text (nothing stale stays on screen) and says
    what is wrong in `.message`. Show it with `.widget`.
    """

    def __init__(self, model, src_vocab, tgt_vocab, sentence: str = EXAMPLE, step: int = 1):
        super().__init__()
        self.model, self.src_vocab, self.tgt_vocab = model, src_vocab, tgt_vocab
        self.text = widgets.Text(value=sentence, placeholder=shown(msg("type an English sentence")),
                                 description=shown(msg("English")), continuous_update=False,
                                 layout=widgets.Layout(width="60%"))
        self.button = widgets.Button(description=shown(msg("Run")), button_style="primary")
        self.step = widgets.IntSlider(value=step, min=1, max=8, description=shown(msg("step")),
                                      continuous_update=False)
        self.previous = widgets.Button(description=shown(msg("◀ Previous")), layout=widgets.Layout(width="110px"))
        self.next = widgets.Button(description=shown(msg("Next ▶")), layout=widgets.Layout(width="110px"))
        self.details = widgets.HTML()
        self.trace = None
        self.button.on_click(lambda _: self.run())
        self.text.observe(lambda _: self.run(), names="value")
        self.step.observe(lambda _: self.redraw(), names="value")
        self.previous.on_click(lambda _: self._move(-1))
        self.next.on_click(lambda _: self._move(+1))
        self.layout(widgets.HBox([self.text, self.button]),
                    widgets.HBox([self.previous, self.step, self.next]), self.details)
        self.run()

    def _move(self, delta: int) -> None:
        self.step.value = min(8, max(1, self.step.value + delta))

    def run(self) -> None:
        """Tokenise the text box, trace the sentence, and redraw (or explain what is wrong)."""
        tokens, problem = parse_input(self.text.value, self.src_vocab, self.model.config.max_len)
        if problem is None:
            try:
                trace = trace_steps(self.model, self.src_vocab, self.tgt_vocab, tokens)
            except ValueError as err:
                problem = reason(err)
        if problem is not None:
            self.trace = None
            self.details.value = ""
            self.clear()
            self.problem(problem)
            return
        self.trace = trace
        self.redraw()  # the slow drawing first, so the picture and the texts change together
        ending = "" if trace["stopped"] else html.escape(shown(msg(" (stopped at the length limit, no <eos>)")))
        self.say(f"<span class='course-translation'>{html.escape(' '.join(tokens))} → "
                 f"<b>{html.escape(trace['text'])}</b>{ending}</span>")

    def redraw(self) -> None:
        if self.trace is None:
            return
        step = self.trace["steps"][self.step.value - 1]
        fig = draw_step(step)  # slow: before any visible change
        self.show(fig)
        shapes = "".join(f"<li><code>{html.escape(s)}</code></li>" for s in step.shapes)
        heading = shown(msg("Step {n}: {title}", n=step.number, title=step.title))
        self.details.value = (f"<b>{html.escape(heading)}</b><br>"
                              f"{html.escape(shown(step.text))}<ul>{shapes}</ul>")


def step_explorer(model, src_vocab, tgt_vocab, sentence: str = EXAMPLE, step: int = 1) -> StepExplorer:
    """Build the explorer; display `explorer.widget` in the notebook."""
    return StepExplorer(model, src_vocab, tgt_vocab, sentence, step)
