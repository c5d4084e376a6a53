"""course layer · graders of lesson 02 (from RNNs to attention): one RNN step, a whole sequence, and the
vanishing gradient. Shapes: B batch · T steps · d_in input width · d_h hidden width."""

import torch
from torch import nn

from course_utils.base.i18n import msg
from course_utils.course.checks import (
    Fail,
    call,
    compare,
    exercise,
    expect_callable,
    expect_tuple,
    probe_generator,
    randn,
)
from course_utils.course.checks.signatures import compare_close

HINT_NO_TANH = msg("Apply the non-linearity: h_t = tanh(x_t W_xh + h_{t-1} W_hh + b).")
HINT_OTHER_NONLIN = msg("This RNN uses tanh (values in (-1, 1)), not ReLU or sigmoid.")
HINT_TANH_PART = msg("Put the whole sum inside tanh: tanh(x_t W_xh + h_{t-1} W_hh + b).")
HINT_NO_HIDDEN = msg("The previous hidden state h_{t-1} must enter the update through W_hh.")
HINT_NO_BIAS = msg("Add the bias b inside the tanh.")
HINT_W_T = msg("Multiply as in the formula, `h_prev @ w_hh` (rows are states), not by the transposed matrix.")
HINT_ORDER = msg("Multiply as in the formula, batch rows first: `x_t @ w_xh` is (B, d_in) @ (d_in, d_h) and "
                 "`h_prev @ w_hh` is (B, d_h) @ (d_h, d_h).")


@exercise("02.rnn_step", "One step of a recurrent network")
def _check_rnn_step(fn):
    expect_callable(fn, "rnn_step")
    g = probe_generator(4)
    for B, d_in, d_h in ((2, 3, 4), (1, 5, 2), (3, 4, 4)):
        x_t, h_prev = randn(g, B, d_in), randn(g, B, d_h)
        w_xh, w_hh, b = randn(g, d_in, d_h), randn(g, d_h, d_h) * 0.5, randn(g, d_h)
        got = call(fn, x_t, h_prev, w_xh, w_hh, b, errors=[(r"cannot be multiplied|size mismatch", HINT_ORDER)])
        pre = x_t @ w_xh + h_prev @ w_hh + b
        wrong_t = x_t @ (w_xh.T if d_in == d_h else w_xh) + h_prev @ w_hh.T + b
        compare("h_t", got, torch.tanh(pre), axes=("B", "d_h"), mistakes=[
            (pre, HINT_NO_TANH), (torch.relu(pre), HINT_OTHER_NONLIN), (torch.sigmoid(pre), HINT_OTHER_NONLIN),
            (torch.tanh(x_t @ w_xh) + h_prev @ w_hh + b, HINT_TANH_PART),
            (torch.tanh(x_t @ w_xh + b), HINT_NO_HIDDEN), (torch.tanh(x_t @ w_xh + h_prev @ w_hh), HINT_NO_BIAS),
            (torch.tanh(x_t @ w_xh + h_prev @ w_hh) + b, HINT_NO_BIAS),
            (torch.tanh(pre + b), msg("The bias b is added twice: once, inside the tanh.")),
            (torch.tanh(wrong_t), HINT_W_T)],
            hint=msg("h_t = tanh(x_t @ w_xh + h_prev @ w_hh + b): one tanh around the sum of the three terms, "
                     "nothing added or multiplied outside it."))


HINT_STALE = msg("Each step must use the hidden state of the *previous step*, not h0 every time: update h inside "
                 "the loop.")
HINT_REVERSED = msg("The states are in reverse order: states[:, t] is the state after step t.")
HINT_SHIFTED = msg("states[:, t] is the state *after* step t (h_{t+1} in 0-based steps), so h0 is not among the "
                   "states.")
HINT_WITH_H0 = msg("Keep only the T states computed by the loop; h0 is the input, not one of the outputs.")
HINT_STACK_AXIS = msg("Stack along the time axis, dim=1, so that states has shape (B, T, d_h).")
HINT_LAST_H0 = msg("h_last should be the state after the last step, not the initial state.")
HINT_LAST_FIRST = msg("h_last should be the state after the *last* step, states[:, -1].")
HINT_LAST_ROW = msg("states[:, -1] is the last step of every sequence; states[-1] is the last sequence of the "
                    "batch.")
HINT_X_T = msg("x[:, t] is step t of every sequence in the batch; x[t] is the whole sequence number t.")
HINT_STEPS = msg("Loop over all T steps, `for t in range(x.size(1))`: states must hold T states.")
HINT_CAT = msg("`torch.cat` joins the states end to end (B, T * d_h); `torch.stack(states, dim=1)` puts them on "
               "a new time axis: (B, T, d_h).")
HINT_LIST = msg("Turn the list of states into one tensor: `torch.stack(states, dim=1)` gives (B, T, d_h).")


def _rnn_reference(x, h0, w_xh, w_hh, b):
    """torch.nn.RNN (tanh, batch_first) with these weights (the check runs inside a
    forked RNG, so building it leaves the global RNG as it was)."""
    d_in, d_h = w_xh.shape
    rnn = nn.RNN(d_in, d_h, batch_first=True)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(w_xh.T)
        rnn.weight_hh_l0.copy_(w_hh.T)
        rnn.bias_ih_l0.copy_(b)
        rnn.bias_hh_l0.zero_()
        states, h_last = rnn(x, h0[None])
    return states, h_last[0]


HINT_BACKWARDS = msg("Run the loop forward in time, t = 0, 1, ..., T-1: each state depends on the earlier inputs.")
HINT_RNN_FORWARD = msg("At each step t: h = tanh(x[:, t] @ w_xh + h @ w_hh + b), with h carried over from the "
                       "previous step (h0 at the start), and states[:, t] = that h.")
HINT_LAST_SECOND = msg("h_last is the state after the *last* step, states[:, -1] (one step later than states[:, "
                       "-2]).")


def _states_mistakes(x, h0, w_xh, w_hh, b, states):
    """(wrong states, hint) for the mistakes learners make in the loop."""
    B, T, _ = x.shape
    d_h = h0.size(-1)
    stale = torch.tanh(x @ w_xh + (h0 @ w_hh)[:, None] + b)  # h0 reused at every step
    backwards = _rnn_reference(x.flip(1), h0, w_xh, w_hh, b)[0].flip(1)  # the loop run from t = T-1 down
    linear, h = [], h0
    for t in range(T):
        h = x[:, t] @ w_xh + h @ w_hh + b
        linear.append(h)
    with_h0 = torch.cat([h0[:, None], states], 1)
    return [(stale, HINT_STALE), (states.flip(1) if T > 1 else None, HINT_REVERSED),
            (backwards if T > 1 else None, HINT_BACKWARDS), (torch.stack(linear, 1), HINT_NO_TANH),
            (with_h0[:, :-1] if T > 1 else None, HINT_SHIFTED), (with_h0, HINT_WITH_H0),
            (states.transpose(0, 1) if B > 1 else None, HINT_STACK_AXIS),
            (lambda s: s.dim() == 3 and s.shape[0] == B and s.shape[1] < T, HINT_STEPS),
            (lambda s: tuple(s.shape) == (B, T * d_h) and T > 1, HINT_CAT)]


@exercise("02.rnn_forward", "Run an RNN over a whole sequence", uses=("rnn_step",))
def _check_rnn_forward(fn):
    expect_callable(fn, "rnn_forward")
    g = probe_generator(5)
    for B, T, d_in, d_h in ((2, 5, 3, 4), (3, 1, 2, 2), (1, 7, 4, 3)):
        x, h0 = randn(g, B, T, d_in), randn(g, B, d_h)
        w_xh, w_hh, b = randn(g, d_in, d_h) * 0.5, randn(g, d_h, d_h) * 0.5, randn(g, d_h)
        states, h_last = _rnn_reference(x, h0, w_xh, w_hh, b)
        got = expect_tuple(call(fn, x, h0, w_xh, w_hh, b, errors=[(r"\w\[t\]", HINT_X_T)]), 2, ("states", "h_last"),
                           wants=(states, h_last))
        if isinstance(got[0], (list, tuple)):
            raise Fail(msg("`states` should be a tensor of shape {shape}, got a {kind}.", shape=tuple(states.shape),
                           kind=type(got[0]).__name__), hint=HINT_LIST)
        compare("states", got[0], states, axes=("B", "T", "d_h"),
                mistakes=_states_mistakes(x, h0, w_xh, w_hh, b, states), hint=HINT_RNN_FORWARD)
        compare("h_last", got[1], h_last, axes=("B", "d_h"),
                mistakes=[(h0, HINT_LAST_H0), (states[:, 0] if T > 1 else None, HINT_LAST_FIRST),
                          (states[:, -2] if T > 1 else None, HINT_LAST_SECOND),
                          (states[-1] if B > 1 else None, HINT_LAST_ROW)])


HINT_GRADIENT_CLOSE = msg("Close, but not within 5 %: multiply the factor of one step by itself once per step "
                          "(Python computes `0.5 ** n` exactly) rather than estimating the result.")


@exercise("02.predict_gradient", "Predict the output: how much of x_0 survives 10 steps?")
def _check_predict_gradient(prediction):
    if prediction is None:
        raise Fail(msg("`prediction` is None: store a number."))
    x = torch.zeros(11, requires_grad=True)  # the statement's linear RNN, differentiated by autograd
    h = x[0]
    for t in range(1, 11):
        h = 0.5 * h + x[t]
    (truth,) = torch.autograd.grad(h, x)
    # "≈ 0.001" is right: the statement asks for the order of magnitude of 0.5^10 = 0.000977.
    compare_close("prediction", prediction, truth[0].item(), HINT_GRADIENT_CLOSE, rel=0.05, near=0.3, mistakes=[
        (0.5 * 10, msg("Gradients *multiply* along the chain rule, one factor w per step; they do not add.")),
        (0.5 ** 9, msg("Count the steps again: from x_0 to h_10 the signal is multiplied by w ten times.")),
        (0.5 ** 11, msg("Count the steps again: from x_0 to h_10 the signal is multiplied by w ten times.")),
        (1.0, msg("With w = 0.5 each step halves the gradient; it does not stay at 1.")),
        (0.5, msg("That is one step; the gradient is multiplied by w at each of the ten steps.")),
        (0.0, msg("Small, but not zero: 0.5 multiplied by itself ten times.")),
        (2.0 ** 10, msg("w = 0.5 *halves* the gradient at every step: 0.5^10, not 2^10.")),
        (10.0, msg("Each step *multiplies* the gradient by w = 0.5; the ten steps do not add up.")),
    ], hint=msg("By the chain rule, each of the ten steps multiplies the gradient by ∂h_t/∂h_{t-1} = w = 0.5: "
                "the answer is a power of 0.5."))
    return msg("Right: 0.5^10 ≈ 0.001: after ten steps almost nothing of x_0 reaches the gradient.")
