"""Checkpoints: every malformed file or entry is refused with a CheckpointError that names
the file and the entry; nothing in a file runs code (weights_only loading)."""

import dataclasses
import os
from pathlib import Path

import pytest
import torch

from course_utils.corpus.data import Vocab
from course_utils.run.reference import REFERENCE_CONFIG, ReferenceConfig, load_reference
from course_utils.run.train import CheckpointError, load_checkpoint, save_checkpoint
from course_utils.transformer.model import Transformer, TransformerConfig

SRC_VOCAB, TGT_VOCAB = Vocab(["a", "b"]), Vocab(["x", "y", "z"])


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    model = Transformer(TransformerConfig(len(SRC_VOCAB), len(TGT_VOCAB), d_model=8, n_heads=2, n_layers=1,
                                          d_ff=16, max_len=8))
    recipe = dataclasses.asdict(REFERENCE_CONFIG)
    path = tmp_path_factory.mktemp("ckpt") / "good.pt"
    return save_checkpoint(path, model, SRC_VOCAB, TGT_VOCAB, recipe=recipe, steps=3)


def altered(good: Path, tmp_path: Path, change) -> Path:
    """A copy of the good checkpoint with `change(checkpoint_dict)` applied."""
    ckpt = torch.load(good, weights_only=True)
    ckpt["state_dict"] = dict(ckpt["state_dict"])
    change(ckpt)
    path = tmp_path / "altered.pt"
    torch.save(ckpt, path)
    return path


def refused(path, *fragments, **kw):
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path, **kw)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)
    return str(info.value)


def test_good_checkpoint_loads_with_its_recipe(good):
    model, src_vocab, tgt_vocab, meta = load_checkpoint(good, recipe=ReferenceConfig)
    assert (src_vocab, tgt_vocab) == (SRC_VOCAB, TGT_VOCAB) and meta["steps"] == 3
    assert not model.training


def test_shipped_reference_checkpoint_passes_every_check():
    """The shipped file (recipe in an older, flat layout) still loads: unknown recipe keys
    are left alone, the known ones have the right types."""
    model, _, _, meta = load_reference()
    assert meta["recipe"]["n_train"] > 0 and isinstance(model, Transformer)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.pt"
    path.write_bytes(b"")
    refused(path, "empty.pt", "empty (0 bytes)")


def test_truncated_file(good, tmp_path):
    path = tmp_path / "truncated.pt"
    path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    refused(path, "truncated.pt", "not a readable checkpoint")


def test_not_a_torch_file(tmp_path):
    path = tmp_path / "notes.pt"
    path.write_text("these are my notes, not a model")
    refused(path, "notes.pt", "not a readable checkpoint")


def test_a_folder_and_a_missing_file(tmp_path):
    refused(tmp_path, "is a folder")
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")


def test_torch_file_that_is_not_a_course_checkpoint(tmp_path):
    torch.save([1, 2, 3], tmp_path / "list.pt")
    refused(tmp_path / "list.pt", "not a course checkpoint")


def test_other_format_version(good, tmp_path):
    refused(altered(good, tmp_path, lambda c: c.update(format_version=99)), "format 99")


@pytest.mark.parametrize("entry", ["config", "state_dict", "src_vocab", "tgt_vocab", "meta"])
def test_missing_entry(good, tmp_path, entry):
    refused(altered(good, tmp_path, lambda c: c.pop(entry)), "lacks the entries", repr(entry))


@pytest.mark.parametrize("entry,value", [("meta", [1, 2]), ("meta", "steps=3"), ("config", "d_model=8"),
                                         ("state_dict", [torch.zeros(2)]), ("src_vocab", ["a", "b"])])
def test_entry_of_the_wrong_type(good, tmp_path, entry, value):
    refused(altered(good, tmp_path, lambda c: c.update({entry: value})), f"'{entry}' must be a dict",
            type(value).__name__)


@pytest.mark.parametrize("field,value,fragment", [
    ("tie_output", "false", "TransformerConfig.tie_output must be True or False"),
    ("pad_id", 0.5, "TransformerConfig.pad_id must be an int"),
    ("d_model", "8", "TransformerConfig.d_model must be an int"),
    ("max_len", 10**12, "TransformerConfig.max_len must be <= 65536"),
])
def test_config_field_of_the_wrong_type_or_size(good, tmp_path, field, value, fragment):
    refused(altered(good, tmp_path, lambda c: c["config"].update({field: value})), "invalid model config", fragment)


def test_config_with_an_unknown_field(good, tmp_path):
    refused(altered(good, tmp_path, lambda c: c["config"].update(n_experts=4)), "invalid model config", "n_experts")


@pytest.mark.parametrize("field,value,fragment", [
    ("n_train", "abc", "meta['recipe']['n_train'] must be int, got str"),
    ("seed", 1.5, "meta['recipe']['seed'] must be int, got float"),
    ("steps", True, "meta['recipe']['steps'] must be int, got bool"),
    ("peak_lr", "fast", "meta['recipe']['peak_lr'] must be float, got str"),
    ("target", float("nan"), "meta['recipe']['target'] must be float"),
    ("decay", 3, "meta['recipe']['decay'] must be str, got int"),
])
def test_recipe_field_of_the_wrong_type(good, tmp_path, field, value, fragment):
    refused(altered(good, tmp_path, lambda c: c["meta"]["recipe"].update({field: value})), fragment,
            recipe=ReferenceConfig)


def test_recipe_nested_model_field_and_recipe_type(good, tmp_path):
    refused(altered(good, tmp_path, lambda c: c["meta"]["recipe"]["model"].update(d_model="64")),
            "meta['recipe']['model']['d_model'] must be int", recipe=ReferenceConfig)
    refused(altered(good, tmp_path, lambda c: c["meta"].update(recipe=[1, 2])),
            "meta['recipe'] must be a dict, got list", recipe=ReferenceConfig)


def test_course_evaluate_path_checks_the_recipe(good, tmp_path):
    """load_reference (what `course evaluate` reads a checkpoint with) checks the recipe."""
    path = altered(good, tmp_path, lambda c: c["meta"]["recipe"].update(n_train="abc"))
    with pytest.raises(CheckpointError, match=r"meta\['recipe'\]\['n_train'\]"):
        load_reference(path)


def test_meta_with_a_value_that_is_not_plain(good, tmp_path):
    refused(altered(good, tmp_path, lambda c: c["meta"].update(when=torch.tensor(1.0))), "meta['when']",
            "plain values")


def test_weights_that_are_not_tensors_or_not_floats(good, tmp_path):
    refused(altered(good, tmp_path, lambda c: c["state_dict"].update({"out_proj.bias": 3})),
            "state_dict['out_proj.bias'] must be a tensor, got int")
    refused(altered(good, tmp_path, lambda c: c["state_dict"].update(
        {"out_proj.bias": torch.zeros(len(TGT_VOCAB), dtype=torch.long)})), "state_dict['out_proj.bias']",
        "floating-point", "int64")


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_weights_are_refused(good, tmp_path, bad):
    def poison(c):
        w = c["state_dict"]["encoder.layers.0.ffn.w_1.weight"].clone()
        w[0, 0] = bad
        c["state_dict"]["encoder.layers.0.ffn.w_1.weight"] = w

    refused(altered(good, tmp_path, poison), "state_dict['encoder.layers.0.ffn.w_1.weight']",
            "1 NaN or infinite value")


def test_shape_mismatch_missing_and_unexpected_weights(good, tmp_path):
    msg = refused(altered(good, tmp_path, lambda c: c["state_dict"].update({"out_proj.bias": torch.zeros(9)})),
                  "do not fit the stored config")
    assert "out_proj.bias" in msg and "size mismatch" in msg
    refused(altered(good, tmp_path, lambda c: c["state_dict"].pop("out_proj.weight")), "out_proj.weight")
    refused(altered(good, tmp_path, lambda c: c["state_dict"].update({"extra.weight": torch.zeros(2)})),
            "extra.weight")


def test_vocabularies_unreadable_or_of_the_wrong_size(good, tmp_path):
    refused(altered(good, tmp_path, lambda c: c.update(tgt_vocab={"tokens": 5})),
            "'tgt_vocab' is not a readable vocabulary")
    refused(altered(good, tmp_path, lambda c: c.update(src_vocab={"tokens": ["<pad>", "<bos>", "<eos>", "<unk>", 1]})),
            "'src_vocab' is not a readable vocabulary", "strings")
    refused(altered(good, tmp_path, lambda c: c.update(src_vocab=Vocab(["a", "b", "c"]).to_dict())),
            "vocabularies have 7 / 7 tokens but the config says 6 / 7")


def test_a_file_cannot_run_code_while_loading(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    torch.save({"format_version": 1, "x": Payload()}, tmp_path / "evil.pt")
    refused(tmp_path / "evil.pt", "not a readable checkpoint")
    assert not marker.exists()


def test_bad_device_and_bad_save_arguments(good, tmp_path):
    with pytest.raises(ValueError, match="device 'gpu0'"):
        load_checkpoint(good, device="gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device 'cuda' is not available here"):
            load_checkpoint(good, device="cuda")
    with pytest.raises(TypeError, match="path must be a str or a Path, got NoneType"):
        load_checkpoint(None)
    model, src_vocab, tgt_vocab, _ = load_checkpoint(good)
    with pytest.raises(IsADirectoryError, match="is a folder"):
        save_checkpoint(tmp_path, model, src_vocab, tgt_vocab)
    with pytest.raises(TypeError, match="src_vocab must be a Vocab"):
        save_checkpoint(tmp_path / "m.pt", model, {"tokens": []}, tgt_vocab)


def test_a_small_file_describing_a_huge_model_is_refused_before_it_is_built(good, tmp_path, monkeypatch):
    """A config of about 1.4e9 parameters (5 GiB of float32) with the few weights of a tiny
    model: refused from the shapes alone, without allocating the model it describes."""
    import course_utils.run.train as train_module

    def huge(c):
        c["config"] = dict(c["config"], d_model=2048, d_ff=8192, n_heads=16, n_layers=12)
    built = []
    real = train_module.Transformer
    monkeypatch.setattr(train_module, "Transformer", lambda config: built.append(config) or real(config))
    path = altered(good, tmp_path, huge)
    assert path.stat().st_size < 100_000
    refused(path, "do not fit the stored config", "1.41e+09 parameters", "missing")
    assert len(built) == 1  # the shape check's model, on the meta device; never the real one


def test_deeply_nested_meta_is_refused_not_a_recursion_error(good, tmp_path):
    nested = []
    inner = nested
    for _ in range(200):
        inner.append([])
        inner = inner[0]
    model = Transformer(TransformerConfig(len(SRC_VOCAB), len(TGT_VOCAB), d_model=8, n_heads=2, n_layers=1,
                                          d_ff=16, max_len=8))
    with pytest.raises(TypeError, match="nested more than 32 lists or dicts deep"):
        save_checkpoint(tmp_path / "nested.pt", model, SRC_VOCAB, TGT_VOCAB, notes=nested)
    refused(altered(good, tmp_path, lambda c: c["meta"].update(notes=nested)), "nested more than 32")


def test_evaluate_refuses_a_recipe_asking_for_a_billion_training_pairs(good, tmp_path, capsys):
    from course_utils.run.reference import evaluate_command

    def billion(c):
        c["meta"] = dict(c["meta"], recipe=dict(c["meta"]["recipe"], n_train=10**9))
    path = altered(good, tmp_path, billion)
    assert evaluate_command(checkpoint=path, split="val", limit=3) == 1
    err = capsys.readouterr().err
    assert "meta['recipe']['n_train'] is 1000000000, outside 0 to 1,000,000" in err
