"""Training: loss, learning-rate schedule, clipping, the loop, and checkpoints."""

import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from course_utils.corpus.data import Vocab
from course_utils.run.train import (
    CheckpointError,
    History,
    clip_gradients,
    label_smoothed_loss,
    load_checkpoint,
    lr_at,
    make_scheduler,
    pick_device,
    save_checkpoint,
    train,
    use_fast_attention,
    warmup_lr,
)
from course_utils.transformer.layers import MultiHeadAttention
from course_utils.transformer.model import Transformer, TransformerConfig


def tiny(seed=0, **kw):
    torch.manual_seed(seed)
    cfg = dict(src_vocab_size=12, tgt_vocab_size=10, d_model=16, n_heads=2, n_layers=1, d_ff=32, dropout=0.0,
               max_len=32)
    cfg.update(kw)
    return Transformer(TransformerConfig(**cfg))


def vocabs():
    return Vocab([f"s{i}" for i in range(8)]), Vocab([f"t{i}" for i in range(6)])


# -- loss -------------------------------------------------------------------------------
def test_label_smoothed_loss_matches_a_hand_computation(gen):
    V, eps, pad = 5, 0.1, 0
    logits = torch.randn(2, 3, V, generator=gen)
    target = torch.tensor([[1, 2, 0], [3, 4, 4]])  # one pad position
    log_p = logits.log_softmax(-1)
    total, count = 0.0, 0
    for b in range(2):
        for t in range(3):
            y = int(target[b, t])
            if y == pad:
                continue
            smoothed = torch.full((V,), eps / V)
            smoothed[y] += 1 - eps
            total += float(-(smoothed * log_p[b, t]).sum())
            count += 1
    assert float(label_smoothed_loss(logits, target, eps, pad)) == pytest.approx(total / count, rel=1e-5)
    # no smoothing: plain cross-entropy over the non-pad tokens
    nll = F.nll_loss(log_p.view(-1, V), target.view(-1), ignore_index=pad)
    assert float(label_smoothed_loss(logits, target, 0.0, pad)) == pytest.approx(float(nll), rel=1e-6)


def test_label_smoothed_loss_rejects_bad_input(gen):
    logits = torch.randn(2, 3, 5, generator=gen)
    with pytest.raises(ValueError, match="target's shape"):
        label_smoothed_loss(logits, torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="smoothing"):
        label_smoothed_loss(logits, torch.zeros(2, 3, dtype=torch.long), smoothing=1.0)
    with pytest.raises(TypeError, match="token ids"):
        label_smoothed_loss(logits, torch.zeros(2, 3))


# -- learning rate ----------------------------------------------------------------------
def test_warmup_lr_is_the_papers_formula():
    d_model, warmup = 512, 4000
    assert warmup_lr(0, d_model, warmup) == 0.0
    assert warmup_lr(1, d_model, warmup) == pytest.approx(d_model ** -0.5 * warmup ** -1.5)
    peak = (d_model * warmup) ** -0.5
    assert warmup_lr(warmup, d_model, warmup) == pytest.approx(peak)
    assert warmup_lr(warmup // 2, d_model, warmup) == pytest.approx(peak / 2)  # linear rise
    assert warmup_lr(4 * warmup, d_model, warmup) == pytest.approx(peak / 2)  # 1/sqrt(step) decay
    for step in (1, 10, 999, 4000, 4001, 20000):  # the same shape as lr_at's inverse_sqrt
        assert lr_at(step, peak, warmup, decay="inverse_sqrt") == pytest.approx(warmup_lr(step, d_model, warmup))
    with pytest.raises(ValueError, match="step"):
        warmup_lr(-1, d_model, warmup)


def test_lr_at_cosine_and_scheduler_agree():
    assert lr_at(50, 1e-3, 100, 1000) == pytest.approx(5e-4)
    assert lr_at(100, 1e-3, 100, 1000) == pytest.approx(1e-3)
    assert lr_at(550, 1e-3, 100, 1000) == pytest.approx(5e-4)  # half-way down the cosine
    assert lr_at(1000, 1e-3, 100, 1000) == 0.0
    assert lr_at(500, 1e-3, 100, decay="constant") == 1e-3
    with pytest.raises(ValueError, match="total_steps"):
        lr_at(500, 1e-3, 100, None, "cosine")
    with pytest.raises(ValueError, match="decay"):
        lr_at(5, 1e-3, 100, 1000, "linear")
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=123.0)
    sched = make_scheduler(opt, 1e-3, 10, 100)
    seen = []
    for _ in range(100):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == pytest.approx([lr_at(n, 1e-3, 10, 100) for n in range(1, 101)])


def test_clip_gradients_bounds_the_global_norm():
    model = tiny()
    for p in model.parameters():
        p.grad = torch.full_like(p, 3.0)
    before = clip_gradients(model, 1.0)
    after = math.sqrt(sum(float(p.grad.pow(2).sum()) for p in model.parameters()))
    n = sum(p.numel() for p in model.parameters())
    assert before == pytest.approx(3.0 * math.sqrt(n), rel=1e-5)
    assert after == pytest.approx(1.0, rel=1e-4)


# -- the loop ---------------------------------------------------------------------------
def copy_task_batches(gen, B=32, T=5):
    """src = random ids 4..11; the target is the same ids shifted into the target vocab (4..9)."""
    while True:
        src = torch.randint(4, 10, (B, T), generator=gen)
        tgt = src.clone()
        yield SimpleNamespace(src=src, tgt_in=torch.cat([torch.ones(B, 1, dtype=torch.long), tgt], 1),
                              tgt_out=torch.cat([tgt, torch.full((B, 1), 2)], 1))


def test_train_learns_a_copy_task_and_records_history(gen):
    model = tiny(d_model=32, n_heads=4)
    use_fast_attention(model, True)
    calls = []

    def eval_fn(m):
        assert not m.training
        calls.append(1)
        return 1.0 - 1.0 / (len(calls) + 1)  # 0.5, 0.67, 0.75, ...

    history = train(model, copy_task_batches(gen), steps=100, peak_lr=3e-3, warmup=20, eval_fn=eval_fn,
                    eval_every=50, device="cpu", progress=False)
    assert isinstance(history, History)
    assert history.step == list(range(1, 101)) and history.steps_done == 100
    assert len(history.loss) == len(history.lr) == len(history.grad_norm) == 100
    assert history.eval_step == [50, 100] and len(history.eval_seconds) == 2
    assert sum(history.loss[-10:]) / 10 < 0.5 * sum(history.loss[:10]) / 10
    assert history.lr[19] == pytest.approx(3e-3) and history.lr[-1] < 1e-4
    assert not model.training and history.train_seconds > 0
    history_dict = history.as_dict()
    assert history_dict["eval_score"] == history.eval_score


def test_train_stops_at_target(gen):
    model = tiny()
    scores = iter([0.2, 0.995, 1.0])
    history = train(model, copy_task_batches(gen), steps=100, warmup=5, eval_fn=lambda m: next(scores),
                    eval_every=10, target=0.99, device="cpu", progress=False)
    assert history.steps_done == 20 and history.target_step == 20
    assert history.target_seconds == history.eval_seconds[1]


def test_train_with_a_seed_is_repeatable_on_cpu():
    losses = []
    for _ in range(2):
        model = tiny(seed=7)
        g = torch.Generator().manual_seed(3)
        losses.append(train(model, copy_task_batches(g), steps=15, warmup=5, device="cpu", progress=False).loss)
    assert losses[0] == losses[1]


def test_use_fast_attention_switches_every_attention_module():
    model = tiny(n_layers=2)
    modules = [m for m in model.modules() if isinstance(m, MultiHeadAttention)]
    assert len(modules) == 2 + 2 * 2
    use_fast_attention(model, True)
    assert all(m.fast for m in modules)
    use_fast_attention(model, False)
    assert not any(m.fast for m in modules)


def test_pick_device():
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device().type in ("cpu", "cuda", "mps")
    with pytest.raises(ValueError, match="prefer"):
        pick_device("tpu")


# -- checkpoints ------------------------------------------------------------------------
def test_checkpoint_round_trip(tmp_path, gen):
    model = tiny(tie_output=True)
    src_vocab, tgt_vocab = vocabs()
    path = save_checkpoint(tmp_path / "m.pt", model, src_vocab, tgt_vocab, steps=5, scores={"test": [0.5, 1]})
    raw = torch.load(path, weights_only=True)  # plain types only
    assert raw["format_version"] == 1 and raw["config"]["d_model"] == 16
    loaded, sv, tv, meta = load_checkpoint(path)
    assert meta == {"steps": 5, "scores": {"test": [0.5, 1]}}
    assert sv == src_vocab and tv == tgt_vocab and loaded.config == model.config and not loaded.training
    assert loaded.out_proj.weight is loaded.tgt_embed.weight
    src = torch.randint(4, 12, (2, 5), generator=gen)
    tgt = torch.randint(4, 10, (2, 4), generator=gen)
    model.eval()
    torch.testing.assert_close(loaded(src, tgt), model(src, tgt))


def test_checkpoint_errors(tmp_path):
    model = tiny()
    src_vocab, tgt_vocab = vocabs()
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")
    with pytest.raises(TypeError, match="plain values"):
        save_checkpoint(tmp_path / "x.pt", model, src_vocab, tgt_vocab, when=torch.tensor(1))
    good = save_checkpoint(tmp_path / "good.pt", model, src_vocab, tgt_vocab)

    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    with pytest.raises(CheckpointError, match="corrupt.pt is not a readable checkpoint"):
        load_checkpoint(corrupt)
    garbage = tmp_path / "garbage.pt"
    garbage.write_text("hello")
    with pytest.raises(CheckpointError, match="garbage.pt"):
        load_checkpoint(garbage)

    raw = torch.load(good, weights_only=True)
    torch.save({"weights": raw["state_dict"]}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a course checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    torch.save({**raw, "format_version": 99}, tmp_path / "future.pt")
    with pytest.raises(CheckpointError, match="format 99"):
        load_checkpoint(tmp_path / "future.pt")
    torch.save({**raw, "config": {**raw["config"], "d_model": 32}}, tmp_path / "mismatch.pt")
    with pytest.raises(CheckpointError, match="do not fit the stored config"):
        load_checkpoint(tmp_path / "mismatch.pt")
    weights = dict(raw["state_dict"])
    weights.pop("out_proj.bias")
    torch.save({**raw, "state_dict": weights}, tmp_path / "missing_key.pt")
    with pytest.raises(CheckpointError, match="out_proj.bias"):
        load_checkpoint(tmp_path / "missing_key.pt")
    torch.save({**raw, "config": {**raw["config"], "tgt_vocab_size": 11}}, tmp_path / "vocab.pt")
    with pytest.raises(CheckpointError, match="vocabularies"):
        load_checkpoint(tmp_path / "vocab.pt")
    torch.save({**raw, "config": {**raw["config"], "n_heads": 3}}, tmp_path / "badcfg.pt")
    with pytest.raises(CheckpointError, match="invalid model config"):
        load_checkpoint(tmp_path / "badcfg.pt")


def test_history_first_reaching_is_the_first_evaluation_at_or_over_the_target():
    h = History(eval_step=[10, 20, 30, 40], eval_score=[0.5, 0.99, 0.98, 1.0], eval_seconds=[1.0, 2.0, 3.0, 4.0])
    assert h.first_reaching(0.99) == (20, 2.0)
    assert h.first_reaching(1.0) == (40, 4.0)
    assert h.first_reaching(1.01) == (None, None)
    assert History().first_reaching(0.5) == (None, None)
