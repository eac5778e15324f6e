"""Why a regularizer works: bias–variance, churn and over/underfitting diagnostics.

numpy-only (no torch), so the report can use it on stored records alone.
"""

from regbench.report.diagnostics.biasvar import Decomposition, churn, decompose, main_prediction
from regbench.report.diagnostics.curves import CurveSummary, Thresholds, diagnose, summarize
from regbench.report.diagnostics.labels import unpack_labels

__all__ = [
    "CurveSummary",
    "Decomposition",
    "Thresholds",
    "churn",
    "decompose",
    "diagnose",
    "main_prediction",
    "summarize",
    "unpack_labels",
]
