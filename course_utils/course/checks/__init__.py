"""course layer · graded exercises: `check("NN.name", learner_object)` gives instant, specific feedback.

A learner calls, in the last line of a check cell,

    check("04.attention", attention)

and sees **pending** (the stub still raises `NotImplementedError`, or a prediction is
still `...`), **passed**, or **failed** with the reason: wrong type, shape (naming the
axes), dtype, NaN/inf, inputs changed in place, a forbidden built-in, a mismatch with the
reference (max difference, share of matching values) and, when the answer shows a *known
mistake* (softmax over the wrong axis, no 1/√d_k, an inverted mask, ...), a hint naming it.
When the answer calls an earlier learner function that is wrong (`split_heads` inside
`MultiHeadAttention`), the result says that function is the cause.

Guarantees: `check` never raises for a learner (any exception from learner code, even
SystemExit or KeyboardInterrupt, makes the check *failed*); with `COURSE_STRICT=1` (CI,
solution notebooks) anything but *passed* raises `AssertionError`. A check leaves no trace:
the torch, Python and NumPy random states, grad mode, the default dtype, signal handlers and
the learner's arguments are as they were. Float answers are accepted in float32 or float64
when the values are right. Each result is recorded in the learner's progress file
(course_utils.course.progress) unless `COURSE_NO_PROGRESS=1`.

How to add an exercise
----------------------
One module per lesson, `checks/lessonNN.py` (every `lesson*.py` here is loaded; shared
helpers live in other modules, e.g. `signatures.py`). A checker
receives the learner's object, probes it, and raises `Fail` (through the helpers) or returns:

    import torch
    from course_utils.course.checks import call, compare, exercise, expect_callable, probe_generator
    from course_utils.transformer import causal_mask          # reference: package code or torch

    HINT_UPPER = "Keep the part *below* the diagonal: position i may see the positions j <= i."
    HINT_FLOAT = "Return a bool mask (True = may attend), e.g. with `torch.ones(..., dtype=torch.bool)`."

    @exercise("06.causal_mask", "Build a causal mask", name="causal_mask")
    def _check_causal_mask(fn):
        expect_callable(fn, "causal_mask")
        for T in (1, 4, 7):                            # probes that expose the mistakes
            got = call(fn, T)                          # time limit, in-place check, pending
            want = causal_mask(T)
            compare("mask", got, want, axes=("T_q", "T_k"), mistakes=[
                (want.T, HINT_UPPER),                          # the value a mistake gives
                (lambda m: m.is_floating_point(), HINT_FLOAT),  # a mistake's signature
            ])

- `call(fn, *args, forbid=("softmax",))` runs learner code: time limit, copies of tensor /
  list / dict arguments to detect in-place changes, a stub's own `NotImplementedError` -> pending, any
  other exception -> failed naming the learner's line. `forbid` patches built-ins (keys of
  `FORBIDDEN`, or `(owner, "attribute")` pairs such as `(EncoderLayer, "forward")`) so that
  calling them fails with "this exercise asks you to write it yourself". `errors=[(regex, hint)]`
  names a mistake that makes learner code raise (the regex is searched in the message, which
  quotes the learner's line).
- `compare(name, got, want, axes=..., mistakes=[(wrong, hint), ...])`: `wrong` is the value
  a known mistake gives on the same probe (matched within the tolerance, even with another
  shape or dtype), or a *signature*: a function `wrong(got) -> bool` testing a property
  (NaN rows exactly where a mask row is empty, all rows equal, T_q columns instead of T_k,
  ...), so a mistake is named even when it is not reproduced bit for bit. A signature's hint
  may be a function of `got`, worded from what was measured: `signatures.wrong_scale(scores,
  mask, d_k, sizes)` fits the constant c of softmax(scores / c) and names it (sqrt(d_v),
  T_k, ...); `signatures.dropped_out(want)` recognises dropout. Then type, shape (naming
  axes), dtype, NaN/inf and values are checked, in that order.
- `call` also recognises torch's own warning about `.T` on a batched tensor and names it
  when the learner's code then raises, even where the learner's line cannot be quoted.
- `compare_prediction(name, got, want, rel=..., mistakes=[(value, hint)])` for "predict the
  output" exercises: accepts int, float, Fraction, Decimal, NumPy scalars/arrays, tensors, lists; `rel` is the
  precision the statement asks for; an answer off by a power of ten or of the wrong sign is
  named as such; a near miss gets "close: compute it exactly".
- `expect_callable`, `expect_class`, `expect_tuple(got, 2, ("out", "weights"), wants=(out, weights))`
  (with `wants`, a pair returned in the other order is named).
- `raise Fail("message", hint="...")` for a custom failure; return a short string from the
  checker to replace the default "passed" message.
- `@exercise(..., uses=("split_heads",))` names the earlier exercises (by their `name`)
  whose learner functions the answer may call. When the answer fails, each is looked up
  (passed to `check` as `split_heads=...`, else where the answer was defined, else in the
  calling notebook) and re-checked; a failing one is reported as the cause.
- Learner objects are touched only through `call`, attribute reads and the helpers
  `is_instance(obj, cls)`, `signature_of(obj, "forward")`, `read_weights(module)`,
  `load_weights(module, {name: tensor})`; an object handed *to* learner code that records
  how it is used subclasses `Recorder`. Never `isinstance` on a learner object, never write
  into it (`module.w_q.weight.copy_(...)`): graded runs hold learner objects in the
  learner's kernel, another process, where these helpers work over the judge's channel
  (course_utils.course.judge, docs/JUDGE.md). There, a learner object is a handle: reading
  an attribute gives data (tensors, numbers, strings, lists, dicts, tuples: copies) or another
  handle; calling a method on it (`module.eval()`) runs it in the kernel; `type_name(obj)`
  names its type in a message. What comes back from `call` is data or a handle; a tensor
  that carries gradients still does (`torch.autograd.grad(loss, logits)` asks the kernel).
  Whatever a grader does to data it got back never reaches the learner's object.
- Every text a learner reads (message, hint) is a translatable `msg(...)` from
  `course_utils.base.i18n`: `HINT_X = msg("...")`, `msg("`{name}` is {value}", name=..., value=...)`
  instead of an f-string, so the Chinese edition can show it.
- Probe inputs come from `probe_generator(seed)` (a local torch.Generator). Use shapes
  where mistakes show: batch *and* head axes, T_q != T_k, d_v != d_k, padded masks.

Then test it in `tests/test_checks_NN.py` (right answers in several styles pass; each
mistake learners make fails with its hint), tag the exercise's cells in
`solutions/NN_name.ipynb` with `exercise:NN.name` (the check cell ends with
`check("NN.name", obj)` and is marked `# NBVAL_CHECK_OUTPUT`), and run
`python -m course_utils.course.build` to regenerate `exercises/`.
"""

from __future__ import annotations

from course_utils.course.checks import comparing, framework
from course_utils.course.checks.comparing import compare, compare_prediction, expect_tuple  # noqa: F401
from course_utils.course.checks.framework import (  # noqa: F401
    DEFAULT_TIME_LIMIT,
    FORBIDDEN,
    MIME_TYPE,
    CheckResult,
    Exercise,
    Fail,
    Pending,
    Recorder,
    call,
    check,
    exercise,
    expect_callable,
    expect_class,
    get_exercise,
    is_instance,
    lesson_modules,
    lesson_package,
    load_errors,
    load_weights,
    probe_generator,
    randn,
    read_weights,
    registry,
    signature_of,
    type_name,
)

__all__ = list(framework.__all__) + list(comparing.__all__)

lesson_package(__name__, __path__)  # every checks/lesson*.py is loaded on first use
