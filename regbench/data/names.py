"""The named values of the generated datasets' factors, without their generators.

A shift's parameters are checked against these names when a suite loads (``regbench
validate``), which must not import torch; the generators (``data.shapes``,
``data.acoustics``) import them from here, so each table is written once.
"""

from __future__ import annotations

# shapes: foreground colours are bright (one channel ≥ 0.8) and backgrounds dark (every
# channel ≤ 0.3), so a shape is visible on every background
COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (0.90, 0.10, 0.10),
    "green": (0.10, 0.80, 0.10),
    "blue": (0.20, 0.35, 1.00),
    "yellow": (0.95, 0.90, 0.10),
    "magenta": (0.90, 0.10, 0.90),
    "cyan": (0.10, 0.90, 0.90),
}
BACKGROUNDS: dict[str, tuple[float, float, float]] = {
    "black": (0.00, 0.00, 0.00),
    "grey": (0.30, 0.30, 0.30),
    "navy": (0.05, 0.05, 0.30),
    "forest": (0.05, 0.25, 0.05),
    "maroon": (0.30, 0.05, 0.05),
}

# audio: the additive noise types of data.acoustics.make_noise
NOISES: tuple[str, ...] = ("white", "pink", "babble")
