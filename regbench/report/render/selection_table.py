"""selection.md: the config a sweep selected for each (benchmark, regularizer), as a Markdown table.

The choice itself is ``table.model_selection``'s (validation numbers only); the oracle choice
goes through the same table under its own heading (``commands/run_sweep.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from regbench.report.render import markdown
from regbench.report.table.model_selection import Selection, run_numbers


def selection_table(
    selected: Mapping[tuple[str, str], Selection],
    records: Iterable[Mapping[str, Any]],
    score_name: str,
) -> str:
    """A markdown table: benchmark, regularizer, chosen config and params, score, test numbers
    of the chosen runs (means over seeds, in %)."""
    by_key = {r["run_key"]: r for r in records}
    header = ["benchmark", "regularizer", "selected config", "params", score_name, "ID acc (%)", "OOD acc (%)"]
    rows = []
    for (bench, base), s in selected.items():
        nums = [run_numbers(by_key[k]) for k in s.run_keys if k in by_key]
        id_acc = 100 * sum(n["id_accuracy"] for n in nums) / max(len(nums), 1)
        ood_acc = 100 * sum(n["ood_accuracy"] for n in nums) / max(len(nums), 1)
        params = ", ".join(
            f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
            for p in (s.params or [])
            for k, v in sorted(p.get("params", {}).items())
        )
        rows.append(
            [bench, base, s.label, params or "—", f"{s.score:.4f}", f"{id_acc:.2f}", f"{ood_acc:.2f}", s.candidates]
        )
    return "\n".join(markdown.table([*header, "candidates"], rows, "llllrrrr"))
