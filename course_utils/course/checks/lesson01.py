"""course layer · graders of lesson 01 (attention intuition): weighted sum, softmax with a temperature,
soft lookup. Shapes: n items · d/d_k/d_v widths."""

import math

import torch
import torch.nn.functional as F

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

HINT_NO_WEIGHTS = msg("This is the plain sum of the values: multiply each value row by its weight first.")
HINT_MEAN = msg("This is the plain average of the values: the weights decide how much each value counts.")
HINT_NOT_SUMMED = msg("Multiply each row by its weight, then sum over the rows (dim=0) to get one vector of "
                      "width d.")
HINT_SUM_WRONG_AXIS = msg("Sum over the rows (the n items, dim=0), not over the width d.")
HINT_VALUES_FIRST = msg("The weights pick rows of `values`: `weights @ values`, not `values @ weights`.")
HINT_RENORMALISED = msg("The weights are already weights (they sum to 1): use them as given, no softmax.")
HINT_HARD_PICK = msg("Attention mixes *all* the value rows, each by its weight, instead of picking the best one.")
HINT_ALL_SUMMED = msg("The result is one vector of width d: sum over the rows only (dim=0), not over everything.")
HINT_EXTRA_AXIS = msg("The result has shape (d,): `weights @ values` gives it directly, without an extra axis.")
HINT_DIVIDED = msg("Don't divide by n: the weights already sum to 1, so the weighted sum is already an average.")
HINT_DOT = msg("`torch.dot` takes two vectors; here `values` is a matrix: use `weights @ values`.")


@exercise("01.weighted_sum", "A weighted sum of values")
def _check_weighted_sum(fn):
    expect_callable(fn, "weighted_sum")
    g = probe_generator(1)
    for n, d in ((4, 3), (1, 5), (6, 2), (3, 3), (3, 4)):
        weights = torch.rand(n, generator=g).softmax(0)
        if (n, d) == (3, 4):  # the formula has no normalisation: weights that do not sum to 1 show it
            weights = torch.tensor([0.5, 2.0, -1.0])
        values = randn(g, n, d)
        got = call(fn, weights, values, errors=[(r"1D tensors expected", HINT_DOT),
                                                (r"size mismatch|cannot be multiplied", HINT_VALUES_FIRST),
                                                (r"must match the size of tensor", HINT_NOT_SUMMED)])
        compare("output", got, weights @ values, axes=("d",), mistakes=[
            (values.sum(0), HINT_NO_WEIGHTS), (values.mean(0), HINT_MEAN),
            (values @ weights if n == d else None, HINT_VALUES_FIRST),
            (weights.softmax(0) @ values, HINT_RENORMALISED),
            (weights[:, None] * values, HINT_NOT_SUMMED), ((weights[:, None] * values).sum(1), HINT_SUM_WRONG_AXIS),
            (weights * values if n == d else None, HINT_NOT_SUMMED), (values[weights.argmax()], HINT_HARD_PICK),
            ((weights @ values) / n if n > 1 else None, HINT_DIVIDED),
            ((weights @ values) / weights.sum() if abs(float(weights.sum()) - 1) > 1e-3 else None,
             msg("Don't divide by the sum of the weights: out = Σ_i w_i v_i as it is (attention's weights "
                 "already sum to 1, and this function must not assume it).")),
            (lambda out: out.shape == values.shape, HINT_NOT_SUMMED), (lambda out: out.dim() == 0, HINT_ALL_SUMMED),
            (lambda out: out.squeeze().shape == (d,) and out.dim() > 1, HINT_EXTRA_AXIS)],
            hint=msg("out = Σ_i weights[i] · values[i]: multiply each value row by its weight, then add the rows "
                     "up."))


HINT_TEMP_MULT = msg("Divide the scores by the temperature (scores / T): a high temperature should make the "
                     "distribution flatter.")
HINT_AXIS = msg("The softmax went over the wrong axis: each row (the last axis, dim=-1) must sum to 1.")
HINT_GLOBAL = msg("You normalised over the whole tensor, as the lesson's 1-D NumPy version does: here each row "
                  "(the last axis) must sum to 1, so use `dim=-1, keepdim=True` in max and sum.")
HINT_NO_NORM = msg("Remember to divide by the sum of the exponentials, so the result sums to 1.")
HINT_UNSTABLE = msg("exp() of a large score overflows to inf, and inf / inf is NaN. Subtract the maximum of each "
                    "row before exp(): it cancels out in the ratio.")
HINT_GLOBAL_MAX = msg("Subtract each row's own maximum (`max(dim=-1, keepdim=True)`): with the maximum of the "
                      "whole tensor a row of small scores underflows to 0 / 0.")
HINT_CONSTANT_SUM = msg("Every row sums to the same number, but not to 1: divide the exponentials by their sum "
                        "*last*; the temperature divides the scores *before* exp().")
HINT_NEGATIVE = msg("Probabilities cannot be negative: exponentiate the (shifted) scores before dividing by "
                    "their sum.")
HINT_IGNORES_T = msg("Use the temperature: divide the scores by it before the softmax (with T = 1 nothing "
                     "changes).")
HINT_ROWS = msg("Each row (the last axis) must sum to 1: divide each exponential by the sum of its row (dim=-1, "
                "keepdim=True).")
HINT_KEEPDIM = msg("`max(dim=-1)` and `sum(dim=-1)` drop the last axis, so the division does not line up row by "
                   "row: add `keepdim=True`.")


HINT_NUMPY = msg("The lesson's NumPy softmax works on one row; here `scores` is a torch tensor of any shape: use "
                 "torch operations over the last axis (`.max(dim=-1, keepdim=True).values`, `.exp()`, "
                 "`.sum(dim=-1, keepdim=True)`).")


HINT_VALUES = msg("`max(dim=...)` returns a pair (values, indices): take `.values` (or use `amax`).")


def _constant_sum(p) -> bool:
    sums = p.double().sum(-1)
    return bool(torch.isfinite(sums).all()) and torch.allclose(sums, sums.flatten()[0].expand_as(sums), atol=1e-4) \
        and abs(float(sums.flatten()[0]) - 1) > 1e-3


def _global(z, max_only=False):
    e = (z - z.max()).exp()
    return e / e.sum(-1, keepdim=True) if max_only else e / e.sum()


@exercise("01.softmax_temperature", "Softmax with a temperature", name="softmax")
def _check_softmax_temperature(fn):
    expect_callable(fn, "softmax")
    g = probe_generator(2)
    big = torch.tensor([[1000.0, 999.0, 0.0], [5.0, 6.0, 7.0]])
    probes = [(randn(g, 3, 4), 0.5), (randn(g, 2, 3, 6) * 3, 2.0), (big, 1.0), (randn(g, 5), 1.0)]
    for scores, t in probes:
        got = _call_softmax(fn, scores, t)
        z = scores / t
        try:
            compare("probabilities", got, torch.softmax(z, dim=-1), axes=("B", "T", "n")[-scores.dim():],
                    mistakes=_softmax_mistakes(scores, t))
        except Fail as fail:
            if fail.hint is None and t != 1:
                _temperature_misused(fn, fail, scores)
            raise


def _call_softmax(fn, scores, t):
    return call(fn, scores, t, forbid=("softmax", "log_softmax"),
                errors=[(r"must match the size of tensor", HINT_KEEPDIM), (r"\bnp\.", HINT_NUMPY),
                        (r"return_types\.max", HINT_VALUES)])


def _softmax_mistakes(scores, t):
    """(wrong probabilities, hint) for the mistakes learners make, then signatures."""
    z = scores / t
    want = torch.softmax(z, dim=-1)
    mistakes = [(torch.softmax(scores * t, dim=-1), HINT_TEMP_MULT), (z.exp(), HINT_NO_NORM),
                (torch.softmax(scores, dim=-1) if t != 1 else None, HINT_IGNORES_T),
                (z.exp() / z.exp().sum(-1, keepdim=True), HINT_UNSTABLE), _large_rows_wrong(z, want)]
    if scores.dim() > 1:
        shifted = (z - z.amax(0, keepdim=True)).exp()
        mistakes += [(_global(z), HINT_GLOBAL), (_global(z, max_only=True), HINT_GLOBAL_MAX),
                     (shifted / shifted.sum(-1, keepdim=True), HINT_GLOBAL_MAX), (torch.softmax(z, dim=0), HINT_AXIS),
                     (lambda p: abs(float(p.double().sum()) - 1) < 1e-4, HINT_GLOBAL),
                     (_constant_sum, HINT_CONSTANT_SUM)]
    return mistakes + [
        (lambda p: bool((p < 0).any()), HINT_NEGATIVE),
        (lambda p: bool((p.argmax(-1) != z.argmax(-1)).all()),
         msg("The largest score must get the largest probability: take exp() of the (shifted) scores, then divide by "
             "their sum.")),
        (lambda p: not torch.allclose(p.double().sum(-1), torch.ones(p.shape[:-1]).double(), atol=1e-4) and
         bool(torch.isfinite(p).all()), HINT_ROWS)]


HINT_LARGE_ROWS = msg("Right where the scores are small, wrong where they are large (1000): subtract each row's "
                      "maximum before exp(), which changes nothing in the ratio; clamping the scores or other fixes "
                      "change the result.")
HINT_TEMPERATURE_USE = msg("Right with temperature 1, wrong with another temperature: the temperature divides the "
                           "scores, `z = scores / temperature`, before the maximum is subtracted and exp() is taken.")


def _large_rows_wrong(z, want):
    """Signature: right in the rows whose scores are small, wrong in a row with a score in the hundreds."""
    large = z.abs().amax(-1) > 100

    def test(p):
        return bool(large.any()) and bool((~large).any()) and p.shape == want.shape and \
            torch.allclose(p[~large].double(), want[~large].double(), atol=1e-5, rtol=1e-4) and \
            not torch.allclose(p[large].double(), want[large].double(), atol=1e-5, rtol=1e-4)
    return test, HINT_LARGE_ROWS


def _temperature_misused(fn, fail, scores):
    """Wrong at a temperature other than 1 with no known mistake: if the same scores at temperature 1 come out
    right, the temperature is what is misused."""
    try:
        at_one = _call_softmax(fn, scores, 1.0)
    except Fail:
        return
    want = torch.softmax(scores, dim=-1)
    if isinstance(at_one, torch.Tensor) and at_one.shape == want.shape and \
            torch.allclose(at_one.double(), want.double(), atol=1e-5, rtol=1e-4):
        raise Fail(fail.message, hint=HINT_TEMPERATURE_USE) from None


HINT_HARD = msg("That is a *hard* lookup: all the weight went to the best key. Attention is soft: softmax the "
                "scores and mix all the values.")
HINT_RAW_SCORES = msg("Turn the scores into weights with a softmax before mixing the values.")
HINT_SCALED = msg("No scaling in this exercise: the scores are the plain dot products `keys @ query` (√d_k comes "
                  "in lesson 04).")
HINT_SCORES_AXIS = msg("One score per key: `keys @ query` (shape (n,)), each key row dotted with the query.")
HINT_UNIFORM = msg("All weights are equal: compare the query with each key (dot products `keys @ query`) first.")
HINT_SCORES = msg("The weights sum to 1 but come from other scores: the scores are the dot products "
                  "`keys @ query`, then a softmax.")
HINT_WEIGHT_SUM = msg("The weights must sum to 1: they are the softmax of the scores `keys @ query`.")
HINT_OUT = msg("With these weights, out = `weights @ values`: each value row times its weight, summed.")
HINT_PRODUCTS = msg("Check the order of the matrix products: scores = `keys @ query` (one per key, shape (n,)), "
                    "out = `weights @ values` (shape (d_v,)).")


@exercise("01.soft_lookup", "Attention as a soft dictionary lookup")
def _check_soft_lookup(fn):
    expect_callable(fn, "soft_lookup")
    g = probe_generator(3)
    for n, d_k, d_v in ((4, 3, 2), (5, 2, 6), (3, 3, 4)):
        query, keys, values = randn(g, d_k), randn(g, n, d_k), randn(g, n, d_v)
        scores = keys @ query
        weights = scores.softmax(-1)
        errors = [(r"size mismatch|cannot be multiplied|must match the size", HINT_PRODUCTS)]
        got = expect_tuple(call(fn, query, keys, values, errors=errors), 2, ("out", "weights"),
                           wants=(weights @ values, weights))
        wrong = [(F.one_hot(scores.argmax(), n).to(scores.dtype), HINT_HARD), (scores, HINT_RAW_SCORES),
                 ((scores / math.sqrt(d_k)).softmax(-1), HINT_SCALED)]
        if n == d_k:
            wrong.append(((query @ keys).softmax(-1), HINT_SCORES_AXIS))
        compare("weights", got[1], weights, axes=("n",), mistakes=wrong + [
            (lambda w: tuple(w.shape) in ((n, 1), (1, n)), lambda w: msg("`weights` has an extra axis, shape "
                                                                         "{shape}: it should be ({n},), one "
                                                                         "weight per key: `keys @ query` (no "
                                                                         "`[:, None]`), then the softmax over "
                                                                         "that axis.", shape=tuple(w.shape), n=n)),
            (lambda w: torch.allclose(w, w.flatten()[0].expand_as(w)), HINT_UNIFORM),
            (lambda w: abs(float(w.sum()) - 1) > 1e-4, HINT_WEIGHT_SUM),
            (lambda w: bool((w >= 0).all()), HINT_SCORES)])
        compare("out", got[0], weights @ values, axes=("d_v",), mistakes=[(w @ values, h) for w, h in wrong] + [
            (weights @ keys, msg("`out` mixes the *keys*: the weights say how much of each *value* to take, "
                                 "`out = weights @ values` (width d_v).")),
            (lambda o: o.shape[-1] == d_k != d_v, msg("`out` has the width of the keys (d_k): mix the values, "
                                                      "`weights @ values`, which gives width d_v.")),
            (lambda o: o.dim() == 0, msg("`out` is one vector of width d_v, one number per value feature: "
                                         "`weights @ values`, without summing it up."))],
                hint=HINT_OUT)
