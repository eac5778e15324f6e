"""SCAN compositional splits (Lake & Baroni 2018, https://arxiv.org/abs/1711.00350).

Generated offline from the grammar in :mod:`regbench.data.scan_grammar`, or read from a
folder of the official files (``root=``). The splits follow the paper:

- ``simple``: a random 80/20 split of all commands (ours is seeded; the official file is one
  particular random split, which ``root=`` gives you);
- ``addprim_jump``: train = every command without "jump" plus "jump" alone, repeated so that it
  is 10% of train as in the official file; test = every composed command with "jump";
- ``length``: train = commands whose action sequence has ≤ 22 actions, test = the longer ones.

Generated ``addprim_jump`` and ``length`` equal the official files as sets (tests/test_scan.py).
"""

from __future__ import annotations

from pathlib import Path

import torch

from regbench.data import register_dataset
from regbench.data.base import DatasetInfo, Examples, Loaded
from regbench.data.scan_grammar import ACTION_WORDS, COMMAND_WORDS, generate_commands
from regbench.registry import UnknownNameError
from regbench.seeding import torch_generator

PAD, UNK = 0, 1  # command side: UNK is what token dropout writes
BOS, EOS = 1, 2  # action side (PAD = 0 there too)
SRC_VOCAB = ("<pad>", "<unk>", *COMMAND_WORDS)
TGT_VOCAB = ("<pad>", "<bos>", "<eos>", *ACTION_WORDS)
MAX_SRC_LEN = 9  # longest command: "walk opposite left thrice after run around right twice"
MAX_ACTIONS = 48  # longest action sequence: two "x around dir thrice" (24 each)
MAX_TGT_LEN = MAX_ACTIONS + 2  # with BOS and EOS

LENGTH_CUTOFF = 22  # length split: train on ≤ 22 actions (the official files: train ≤ 22, test ≥ 24)
PRIMITIVE_SHARE = 0.1  # addprim split: the lone primitive is 10% of train (1,467 of 14,670)
SIMPLE_TEST_FRACTION = 0.2
SPLITS = ("simple", "addprim_jump", "length")
# Official file layout: flat in root, or as in the brendenlake/SCAN repository.
OFFICIAL_SUBDIRS = {"simple": "simple_split", "addprim_jump": "add_prim_split", "length": "length_split"}

Pairs = list[tuple[str, str]]


def generated_split(split: str, seed: int = 0, test_fraction: float = SIMPLE_TEST_FRACTION) -> tuple[Pairs, Pairs]:
    """``(train, test)`` lists of ``(command, actions)`` for a split, from the grammar alone.

    Only ``simple`` uses ``seed`` (its permutation seed is ``derive_seed(seed, "scan-simple")``).
    """
    _check_split(split)
    pairs = list(generate_commands())
    if split == "simple":
        g = torch_generator(seed, "scan-simple")
        order = torch.randperm(len(pairs), generator=g).tolist()
        n_test = round(test_fraction * len(pairs))
        return [pairs[i] for i in order[n_test:]], [pairs[i] for i in order[:n_test]]
    if split == "length":
        short = [p for p in pairs if len(p[1].split()) <= LENGTH_CUTOFF]
        return short, [p for p in pairs if len(p[1].split()) > LENGTH_CUTOFF]
    # addprim_jump: "jump" alone is the one command with jump seen in training.
    without = [p for p in pairs if "jump" not in p[0].split()]
    lone = [p for p in pairs if p[0] == "jump"]
    copies = round(len(without) * PRIMITIVE_SHARE / (1 - PRIMITIVE_SHARE))
    test = [p for p in pairs if "jump" in p[0].split() and p[0] != "jump"]
    return without + lone * copies, test


def read_official(path: Path) -> Pairs:
    """``(command, actions)`` pairs of one official file (``IN: … OUT: …`` per line)."""
    pairs = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        if not line.startswith("IN: ") or " OUT: " not in line:
            raise ValueError(f"{path}:{n}: expected 'IN: <command> OUT: <actions>', got {line[:60]!r}")
        cmd, act = line[4:].split(" OUT: ", 1)
        pairs.append((cmd.strip(), act.strip()))
    return pairs


def official_split(split: str, root: str | Path) -> tuple[Pairs, Pairs]:
    """``(train, test)`` from the official ``tasks_{train,test}_<split>.txt`` under ``root``."""
    _check_split(split)
    root = Path(root).expanduser()
    out = []
    for part in ("train", "test"):
        name = f"tasks_{part}_{split}.txt"
        candidates = [root / name, root / OFFICIAL_SUBDIRS[split] / name]
        found = next((p for p in candidates if p.is_file()), None)
        if found is None:
            raise FileNotFoundError(
                f"SCAN file {name} not found (looked in {', '.join(str(p.parent) for p in candidates)}); "
                "get it from the SCAN repository https://github.com/brendenlake/SCAN, "
                "or leave root unset to generate SCAN offline"
            )
        out.append(read_official(found))
    return out[0], out[1]


def encode(pairs: Pairs) -> Examples:
    """Token ids of ``pairs``.

    x: (N, MAX_SRC_LEN) int64 command ids, PAD after the command.
    y: (N, MAX_TGT_LEN) int64 action ids: BOS a_1 … a_n EOS, then PAD.
    meta: ``src_len`` and ``tgt_len`` (N,) int64: command words and actions (without BOS/EOS).
    """
    src_id = {w: i for i, w in enumerate(SRC_VOCAB)}
    tgt_id = {w: i for i, w in enumerate(TGT_VOCAB)}
    xs, ys, src_len, tgt_len = [], [], [], []
    for cmd, act in pairs:
        words, actions = cmd.split(), act.split()
        if (
            len(words) > MAX_SRC_LEN
            or len(actions) > MAX_ACTIONS
            or not all(w in src_id for w in words)
            or not all(a in tgt_id for a in actions)
        ):
            raise ValueError(f"not a SCAN example (unknown word or too long): {cmd!r} -> {act!r}")
        # Build padded Python lists and convert once: one tensor per row is ~10x slower.
        xs.append([src_id[w] for w in words] + [PAD] * (MAX_SRC_LEN - len(words)))
        ys.append([BOS, *(tgt_id[a] for a in actions), EOS] + [PAD] * (MAX_ACTIONS - len(actions)))
        src_len.append(len(words))
        tgt_len.append(len(actions))
    x = torch.tensor(xs, dtype=torch.int64).reshape(len(pairs), MAX_SRC_LEN)
    y = torch.tensor(ys, dtype=torch.int64).reshape(len(pairs), MAX_TGT_LEN)
    src_len = torch.tensor(src_len, dtype=torch.int64)
    tgt_len = torch.tensor(tgt_len, dtype=torch.int64)
    return Examples(x, y, {"src_len": src_len, "tgt_len": tgt_len})


def decode_actions(ids: torch.Tensor) -> list[str]:
    """Action strings of (N, T) ids, read up to the first EOS, skipping BOS and PAD."""
    out = []
    for row in ids.tolist():
        words = []
        for t in row:
            if t == EOS:
                break
            if t not in (PAD, BOS):
                words.append(TGT_VOCAB[t])
        out.append(" ".join(words))
    return out


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise UnknownNameError("SCAN split", split, list(SPLITS))


def _val_index(train: Pairs, fraction: float, seed: int) -> torch.Tensor:
    """Indices of a seeded ``fraction`` of train for validation, (M,) int64.

    Drawn only among commands that occur once, so no command sits in both train and val and
    the repeated primitive of ``addprim_jump`` stays in train.
    """
    counts: dict[str, int] = {}
    for cmd, _ in train:
        counts[cmd] = counts.get(cmd, 0) + 1
    single = torch.tensor([i for i, (cmd, _) in enumerate(train) if counts[cmd] == 1], dtype=torch.int64)
    g = torch_generator(seed, "split")
    k = round(fraction * len(train))
    return torch.sort(single[torch.randperm(len(single), generator=g)[:k]]).values


@register_dataset("scan", task="seq2seq", modality="text")
def load_scan(
    seed: int,
    split: str = "simple",
    root: str | None = None,
    val_fraction: float = 0.1,
    max_train: int | None = None,
) -> Loaded:
    """SCAN commands → actions; parts ``train``, ``val`` (seeded 10% of train) and ``test``.

    ``root``: a folder of the official files (``tasks_train_simple.txt`` …); unset, SCAN is
    generated from the grammar. ``max_train``: keep a seeded subset of this many training
    examples (for quick suites); val and test are unchanged.
    x is (N, 9) int64 command ids, y (N, 50) int64 action ids (see :func:`encode`).
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    train, test = official_split(split, root) if root else generated_split(split, seed)
    train_ex = encode(train)
    val_idx = _val_index(train, val_fraction, seed)
    keep = torch.ones(len(train_ex), dtype=torch.bool)
    keep[val_idx] = False
    train_idx = torch.nonzero(keep).flatten()
    if max_train is not None and max_train < len(train_idx):
        g = torch_generator(seed, "scan-subsample")
        train_idx = torch.sort(train_idx[torch.randperm(len(train_idx), generator=g)[:max_train]]).values
    parts = {"train": train_ex.subset(train_idx), "val": train_ex.subset(val_idx), "test": encode(test)}
    info = DatasetInfo(
        name="scan",
        num_classes=len(TGT_VOCAB),
        input_shape=(MAX_SRC_LEN,),
        factors=("src_len", "tgt_len"),
        details={
            "source": f"official files in {root}" if root else "generated from the SCAN grammar",
            "split": split,
            "src_vocab": list(SRC_VOCAB),
            "tgt_vocab": list(TGT_VOCAB),
            "pad_id": PAD,
            "unk_id": UNK,
            "bos_id": BOS,
            "eos_id": EOS,
            "max_src_len": MAX_SRC_LEN,
            "max_tgt_len": MAX_TGT_LEN,
            "target_is_function_of_source": True,  # an edited command needs a new target
        },
    )
    return Loaded(info, parts)
