"""The SCAN grammar and its interpretation, generated offline and deterministically.

SCAN (Lake & Baroni 2018, https://arxiv.org/abs/1711.00350) maps navigation commands to
action sequences. The grammar (their Fig. 6) is finite, 20,910 commands in all::

    C -> S and S | S after S | S
    S -> V twice | V thrice | V
    V -> D opposite DIR | D around DIR | D DIR | U      (D = U or "turn")
    U -> walk | look | run | jump                       DIR -> left | right

and the interpretation is ``[[x1 and x2]] = [[x1]] [[x2]]``, ``[[x1 after x2]] =
[[x2]] [[x1]]``, ``[[v twice]] = [[v]] [[v]]``, ``[[u opposite left]] = LTURN LTURN [[u]]``,
``[[u around left]] = (LTURN [[u]])×4``, ``[[u left]] = LTURN [[u]]``, with "turn" standing
for the empty action. The data-set file (``tasks.txt``) is exactly this set.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import product

PRIMITIVES = ("walk", "look", "run", "jump")  # U
DIRECTIONS = ("left", "right")
ACTION_OF = {"walk": "I_WALK", "look": "I_LOOK", "run": "I_RUN", "jump": "I_JUMP", "turn": ""}
TURN_OF = {"left": "I_TURN_LEFT", "right": "I_TURN_RIGHT"}
REPEATS = {"": 1, "twice": 2, "thrice": 3}
CONJUNCTIONS = ("and", "after")

# Every word and action the grammar can produce, in a fixed order, so token ids never depend
# on which split (or which official file) was loaded.
COMMAND_WORDS = (
    "and",
    "after",
    "around",
    "jump",
    "left",
    "look",
    "opposite",
    "right",
    "run",
    "thrice",
    "turn",
    "twice",
    "walk",
)
ACTION_WORDS = ("I_JUMP", "I_LOOK", "I_RUN", "I_TURN_LEFT", "I_TURN_RIGHT", "I_WALK")


def _verb_phrases() -> list[tuple[str, list[str]]]:
    """All V phrases (34) with their actions, in a fixed order."""
    out = [(u, [ACTION_OF[u]]) for u in PRIMITIVES]
    for d, direction in product(("turn", *PRIMITIVES), DIRECTIONS):
        act = [ACTION_OF[d]] if ACTION_OF[d] else []
        turn = TURN_OF[direction]
        out.append((f"{d} {direction}", [turn, *act]))
        out.append((f"{d} opposite {direction}", [turn, turn, *act]))
        out.append((f"{d} around {direction}", [turn, *act] * 4))
    return out


def _sentences() -> list[tuple[str, list[str]]]:
    """All S phrases (102): a V phrase, optionally repeated twice or thrice."""
    out = []
    for (v, acts), rep in product(_verb_phrases(), REPEATS):
        out.append((f"{v} {rep}".strip(), acts * REPEATS[rep]))
    return out


@lru_cache(maxsize=1)
def generate_commands() -> tuple[tuple[str, str], ...]:
    """Every SCAN command and its action sequence, as ``(command, actions)`` strings.

    Returns the 20,910 pairs in a fixed (generation) order; actions are space-separated.
    Cached: the tuple is immutable and takes ~50 ms to build.
    """
    sents = _sentences()
    pairs = [(s, a) for s, a in sents]
    for (s1, a1), conj, (s2, a2) in product(sents, CONJUNCTIONS, sents):
        pairs.append((f"{s1} {conj} {s2}", a1 + a2 if conj == "and" else a2 + a1))
    return tuple((c, " ".join(a)) for c, a in pairs)


def interpret(command: str) -> str:
    """The action sequence of one command (for hand checks); raises on a non-SCAN command."""
    table = dict(generate_commands())
    if command not in table:
        raise ValueError(f"'{command}' is not a command of the SCAN grammar")
    return table[command]
