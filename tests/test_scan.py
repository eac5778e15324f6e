"""SCAN: the grammar, the splits against the official files, the loader and its errors."""

from collections import Counter
from pathlib import Path

import pytest
import torch

from regbench.data import DATASETS
from regbench.data.scan import (
    BOS,
    EOS,
    MAX_SRC_LEN,
    MAX_TGT_LEN,
    PAD,
    SRC_VOCAB,
    TGT_VOCAB,
    decode_actions,
    encode,
    generated_split,
    load_scan,
    read_official,
)
from regbench.data.scan_grammar import generate_commands, interpret
from regbench.registry import UnknownNameError

# CI puts a read-only copy of shared/ beside the checkout.
OFFICIAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "scan"
needs_official = pytest.mark.skipif(
    not OFFICIAL.is_dir(), reason=f"official SCAN files not found at {OFFICIAL} (shared/ is not beside the repo)"
)

L, R = "I_TURN_LEFT", "I_TURN_RIGHT"
HAND_CHECKED = {  # worked out by hand from the paper's interpretation rules
    "jump": "I_JUMP",
    "turn left": L,
    "turn opposite left": f"{L} {L}",
    "turn around right": " ".join([R] * 4),
    "jump around left twice": " ".join([f"{L} I_JUMP"] * 8),
    "walk opposite right thrice after run": "I_RUN " + " ".join([f"{R} {R} I_WALK"] * 3),
    "look left and run thrice": f"{L} I_LOOK I_RUN I_RUN I_RUN",
    "turn right twice after walk around left": " ".join([f"{L} I_WALK"] * 4 + [R, R]),
}


def _file(name: str) -> set[tuple[str, str]]:
    return set(read_official(OFFICIAL / name))


def test_hand_checked_commands():
    for command, actions in HAND_CHECKED.items():
        assert interpret(command) == actions, command


def test_grammar_size_and_determinism():
    pairs = generate_commands()
    assert len(pairs) == len(set(pairs)) == 20910  # 102 + 2·102² (Lake & Baroni Fig. 6)
    assert max(len(c.split()) for c, _ in pairs) == MAX_SRC_LEN
    assert max(len(a.split()) for _, a in pairs) == MAX_TGT_LEN - 2
    assert generate_commands.__wrapped__() == pairs  # rebuilt from scratch: identical order


def test_interpret_rejects_non_commands():
    with pytest.raises(ValueError, match="not a command of the SCAN grammar"):
        interpret("jump twice twice")


@needs_official
def test_hand_checked_commands_are_in_tasks_txt():
    assert set(HAND_CHECKED.items()) <= _file("tasks.txt")


@needs_official
def test_generated_grammar_equals_tasks_txt():
    assert set(generate_commands()) == _file("tasks.txt")


@needs_official
@pytest.mark.parametrize("split", ["addprim_jump", "length"])
def test_generated_split_equals_official_files(split):
    train, test = generated_split(split)
    assert set(train) == _file(f"tasks_train_{split}.txt")
    assert set(test) == _file(f"tasks_test_{split}.txt")


@needs_official
def test_addprim_jump_repeats_the_primitive_as_the_official_file():
    train, _ = generated_split("addprim_jump")
    official = read_official(OFFICIAL / "tasks_train_addprim_jump.txt")
    assert len(train) == len(official) == 14670
    assert Counter(c for c, _ in train)["jump"] == Counter(c for c, _ in official)["jump"] == 1467


@needs_official
def test_official_root_gives_the_official_simple_split():
    loaded = load_scan(0, "simple", root=str(OFFICIAL))
    official_train = Counter(read_official(OFFICIAL / "tasks_train_simple.txt"))
    got_train = Counter(_pairs(loaded.parts["train"]) + _pairs(loaded.parts["val"]))
    assert got_train == official_train
    assert set(_pairs(loaded.parts["test"])) == _file("tasks_test_simple.txt")
    assert "official" in loaded.info.details["source"]


def _pairs(ex) -> list[tuple[str, str]]:
    cmds = [" ".join(SRC_VOCAB[t] for t in row if t != PAD) for row in ex.x.tolist()]
    return list(zip(cmds, decode_actions(ex.y)))


def test_generated_simple_split_is_a_seeded_partition():
    a = load_scan(0, "simple")
    parts = {k: _pairs(v) for k, v in a.parts.items()}
    assert len(parts["test"]) == 4182  # 20% of 20,910, as the official file
    assert len(parts["val"]) == round(0.1 * (20910 - 4182))
    everything = parts["train"] + parts["val"] + parts["test"]
    assert len(everything) == len(set(everything)) == 20910
    assert torch.equal(a.parts["test"].x, load_scan(0, "simple").parts["test"].x)  # deterministic
    assert not torch.equal(a.parts["test"].x, load_scan(1, "simple").parts["test"].x)  # seed matters


def test_addprim_val_never_holds_the_repeated_primitive():
    loaded = load_scan(0, "addprim_jump")
    train_cmds = [c for c, _ in _pairs(loaded.parts["train"])]
    val_cmds = [c for c, _ in _pairs(loaded.parts["val"])]
    assert train_cmds.count("jump") == 1467
    assert not set(val_cmds) & set(train_cmds)
    assert not any("jump" in c.split() for c in val_cmds)
    assert all("jump" in c.split() for c, _ in _pairs(loaded.parts["test"]))


def test_length_split_by_action_count():
    loaded = load_scan(0, "length")
    assert int(loaded.parts["train"].meta["tgt_len"].max()) <= 22
    assert int(loaded.parts["test"].meta["tgt_len"].min()) > 22


def test_encoding_layout_and_info():
    loaded = load_scan(0, "simple", max_train=100)
    train = loaded.parts["train"]
    assert train.x.shape == (100, MAX_SRC_LEN) and train.y.shape == (100, MAX_TGT_LEN)
    assert train.x.dtype == train.y.dtype == torch.int64
    assert (train.y[:, 0] == BOS).all()
    rows = torch.arange(100)
    assert (train.y[rows, train.meta["tgt_len"] + 1] == EOS).all()  # EOS right after the actions
    assert ((train.x != PAD).sum(1) == train.meta["src_len"]).all()
    info = loaded.info
    assert info.num_classes == len(TGT_VOCAB) and info.input_shape == (MAX_SRC_LEN,)
    assert info.details["tgt_vocab"][EOS] == "<eos>" and info.details["max_tgt_len"] == MAX_TGT_LEN
    assert DATASETS.get("scan") is load_scan


def test_encode_roundtrip_and_rejects_foreign_words():
    pairs = [("jump twice", "I_JUMP I_JUMP"), ("turn left", "I_TURN_LEFT")]
    assert _pairs(encode(pairs)) == pairs
    with pytest.raises(ValueError, match="not a SCAN example"):
        encode([("fly twice", "I_FLY I_FLY")])


def test_unknown_split_suggests_the_closest():
    with pytest.raises(UnknownNameError, match="Did you mean: length"):
        load_scan(0, "lenght")
    with pytest.raises(ValueError, match="val_fraction"):
        load_scan(0, "simple", val_fraction=1.5)


def test_root_without_files_says_what_where_and_how(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load_scan(0, "length", root=str(tmp_path))
    msg = str(err.value)
    assert "tasks_train_length.txt" in msg and str(tmp_path) in msg and "brendenlake/SCAN" in msg
    assert "\n" not in msg


def test_root_in_repository_layout_and_malformed_files(tmp_path):
    folder = tmp_path / "simple_split"  # as in a clone of brendenlake/SCAN
    folder.mkdir()
    lines = ["IN: jump twice OUT: I_JUMP I_JUMP", "IN: walk OUT: I_WALK", "IN: run left OUT: I_TURN_LEFT I_RUN"]
    (folder / "tasks_train_simple.txt").write_text("\n".join(lines[:2]) + "\n")
    (folder / "tasks_test_simple.txt").write_text(lines[2] + "\n")
    loaded = load_scan(0, "simple", root=str(tmp_path), val_fraction=0.0)
    assert _pairs(loaded.parts["train"]) == [("jump twice", "I_JUMP I_JUMP"), ("walk", "I_WALK")]
    assert _pairs(loaded.parts["test"]) == [("run left", "I_TURN_LEFT I_RUN")]
    (folder / "tasks_test_simple.txt").write_text("run left -> I_TURN_LEFT I_RUN\n")
    with pytest.raises(ValueError, match="tasks_test_simple.txt:1: expected 'IN: <command> OUT: <actions>'"):
        load_scan(0, "simple", root=str(tmp_path))
