"""Procedural handwritten-style digits, every image an independent draw (offline, any number).

scikit-learn's 1,797 digits hold only ~450 test images, and warps of one of them
(``digits_large``) share its writer: they are not independent test images. This generator
draws every image from its own random "writer", so a held-out part can hold as many
independent images as a statistic needs, from the same distribution as the training part.

It imitates how scikit-learn's digits (UCI optdigits, Alpaydin & Kaynak 1998) were made: a
binary 32×32 bitmap of the digit, cut into 4×4 blocks, each block's count of inked pixels
(0..16) one grey level of an 8×8 image. A digit is a fixed stroke template per class
(polylines and elliptic arcs in the unit square), drawn per image through:

- a smooth random displacement of the strokes (two random sinusoids per axis, amplitude
  ±``wobble``), the writer's own shape of each stroke;
- an affine map: rotation ±``rotation`` degrees, slant (shear) ±``slant``, x and y scale
  1 ± ``scale`` independently, translation ±``translate``;
- a stroke width drawn from ``stroke`` (min, max), as a fraction of the side;
- optional strokes (the flag and foot of a 1, the bar of a 7) kept with a fixed probability.

Each part's images come from ``torch_generator(seed, "data", "digits_synth", part)`` alone and
every class gets the same count (``n_<part>`` // 10, the remainder to the lowest classes), so
growing the test part never changes the training part.
"""

from __future__ import annotations

import math

import torch

from regbench.data import register_dataset
from regbench.data.base import DatasetInfo, Examples, Loaded
from regbench.data.digits_large import uniform
from regbench.seeding import torch_generator

BITMAP = 32  # side of the binary bitmap, as optdigits
BLOCK = 4  # optdigits' block: 32 / 4 = 8 pixels per side, 16 grey levels + 0


def arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float, steps: int = 12) -> list:
    """Points of an elliptic arc from angle ``start`` to ``end`` (degrees; y points down, so -90 is the top)."""
    return [
        (cx + rx * math.cos(math.radians(a)), cy + ry * math.sin(math.radians(a)))
        for a in torch.linspace(start, end, steps + 1).tolist()
    ]


# Per class: strokes as (points, probability the stroke is drawn). Coordinates in the unit
# square, x right, y down; the templates fill about [0.2, 0.8] × [0.12, 0.88] like a
# size-normalised optdigits bitmap.
TEMPLATES: dict[int, list[tuple[list, float]]] = {
    0: [(arc(0.5, 0.5, 0.26, 0.38, -90, 270, 10), 1.0)],
    1: [([(0.52, 0.12), (0.5, 0.88)], 1.0), ([(0.36, 0.3), (0.52, 0.12)], 0.7), ([(0.36, 0.88), (0.66, 0.88)], 0.3)],
    2: [(arc(0.5, 0.34, 0.25, 0.22, -165, 35, 8) + [(0.24, 0.87), (0.8, 0.87)], 1.0)],
    3: [(arc(0.49, 0.31, 0.24, 0.19, -160, 90, 8), 1.0), (arc(0.49, 0.68, 0.28, 0.2, -90, 155, 8), 1.0)],
    4: [([(0.62, 0.12), (0.2, 0.64), (0.82, 0.64)], 1.0), ([(0.63, 0.12), (0.63, 0.88)], 1.0)],
    5: [([(0.76, 0.13), (0.33, 0.13), (0.28, 0.47)], 1.0), (arc(0.5, 0.66, 0.27, 0.22, -145, 150, 8), 1.0)],
    6: [([(0.7, 0.12), (0.46, 0.26), (0.32, 0.46), (0.28, 0.68)], 1.0), (arc(0.5, 0.68, 0.22, 0.2, 0, 360, 10), 1.0)],
    7: [([(0.22, 0.13), (0.78, 0.13), (0.42, 0.88)], 1.0), ([(0.42, 0.5), (0.72, 0.5)], 0.2)],
    8: [(arc(0.5, 0.3, 0.2, 0.18, 0, 360, 10), 1.0), (arc(0.5, 0.68, 0.25, 0.2, 0, 360, 10), 1.0)],
    9: [(arc(0.5, 0.32, 0.22, 0.2, 0, 360, 10), 1.0), ([(0.72, 0.32), (0.7, 0.6), (0.58, 0.88)], 1.0)],
}


def template_segments(digit: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A class's strokes as segments: ends (S, 2, 2), stroke id (S,) int64, keep probability per stroke."""
    ends, stroke_of, keep = [], [], []
    for k, (points, p) in enumerate(TEMPLATES[digit]):
        pts = torch.tensor(points, dtype=torch.float32)
        ends.append(torch.stack([pts[:-1], pts[1:]], dim=1))
        stroke_of.append(torch.full((len(pts) - 1,), k, dtype=torch.int64))
        keep.append(p)
    return torch.cat(ends), torch.cat(stroke_of), torch.tensor(keep)


def _distort(points: torch.Tensor, g: torch.Generator, knobs: dict[str, float]) -> torch.Tensor:
    """(M, P, 2) template points → (M, P, 2) through a per-image wobble and affine map (module docstring)."""
    m = len(points)
    out = points.clone()
    for axis in range(2):  # two random low-frequency sinusoids per axis
        for _ in range(2):
            freq = 1 + 2 * torch.rand(m, 1, 2, generator=g)
            phase = 2 * math.pi * torch.rand(m, 1, generator=g)
            amp = uniform(m, knobs["wobble"], g).view(m, 1)
            out[..., axis] += amp * torch.sin(math.pi * (points * freq).sum(-1) + phase)
    centred = out - 0.5
    angle = uniform(m, math.radians(knobs["rotation"]), g).view(m, 1)
    slant = uniform(m, knobs["slant"], g).view(m, 1)
    sx, sy = (1 + uniform(m, knobs["scale"], g).view(m, 1) for _ in range(2))
    x, y = centred[..., 0] * sx, centred[..., 1] * sy
    x = x - slant * y  # a forward slant: the top leans right (y points down)
    cos, sin = torch.cos(angle), torch.sin(angle)
    shift = uniform(2 * m, knobs["translate"], g).view(m, 1, 2)
    return torch.stack([cos * x - sin * y, sin * x + cos * y], dim=-1) + 0.5 + shift


def draw_digits(digit: int, n: int, g: torch.Generator, stroke: tuple[float, float], **knobs: float) -> torch.Tensor:
    """(n, 1, 8, 8) float32 in [0, 1]: n independent draws of class ``digit`` (optdigits' 4×4 block counts / 16)."""
    ends, stroke_of, keep_p = template_segments(digit)
    s = len(ends)
    pts = _distort(ends.view(1, 2 * s, 2).expand(n, -1, -1), g, knobs).view(n, s, 2, 2)
    kept = torch.rand(n, len(keep_p), generator=g) < keep_p  # (n, strokes)
    width = stroke[0] + (stroke[1] - stroke[0]) * torch.rand(n, 1, 1, generator=g)
    centres = (torch.arange(BITMAP, dtype=torch.float32) + 0.5) / BITMAP
    px, py = (c.reshape(1, -1) for c in torch.meshgrid(centres, centres, indexing="xy"))  # (1, B²) each
    nearest = torch.full((n, BITMAP * BITMAP), math.inf)  # squared distance to the nearest kept segment
    for k in range(s):  # one segment at a time: (n, B²) temporaries, not (n, s, B²)
        ax, ay = pts[:, k, 0, 0:1], pts[:, k, 0, 1:2]  # (n, 1)
        dx, dy = pts[:, k, 1, 0:1] - ax, pts[:, k, 1, 1:2] - ay
        rx, ry = px - ax, py - ay  # (n, B²)
        t = ((rx * dx + ry * dy) / (dx * dx + dy * dy).clamp_min(1e-12)).clamp_(0, 1)
        d2 = (rx - t * dx).square_() + (ry - t * dy).square_()
        d2[~kept[:, stroke_of[k]]] = math.inf
        torch.minimum(nearest, d2, out=nearest)
    ink = (nearest <= (width.view(n, 1) / 2) ** 2).float().view(n, 1, BITMAP, BITMAP)
    return torch.nn.functional.avg_pool2d(ink, BLOCK)  # block count / 16: the 0..16 grey levels of optdigits


def class_counts(n: int, num_classes: int = 10) -> list[int]:
    """n split evenly over the classes, the remainder to the lowest classes."""
    return [n // num_classes + (c < n % num_classes) for c in range(num_classes)]


def draw_part(n: int, g: torch.Generator, batch: int = 512, **knobs) -> Examples:
    """n digits, class-balanced (``class_counts``), drawn in batches to bound memory; x (n, 1, 8, 8), y (n,)."""
    xs, ys = [], []
    for digit, count in enumerate(class_counts(n)):
        for start in range(0, count, batch):
            m = min(batch, count - start)
            xs.append(draw_digits(digit, m, g, **knobs))
            ys.append(torch.full((m,), digit, dtype=torch.int64))
    if not xs:
        return Examples(torch.zeros(0, 1, 8, 8), torch.zeros(0, dtype=torch.int64))
    return Examples(torch.cat(xs), torch.cat(ys))


@register_dataset("digits_synth")
def load_digits_synth(
    seed: int,
    n_train: int = 988,
    n_val: int = 359,
    n_test: int = 450,
    rotation: float = 15.0,
    slant: float = 0.4,
    scale: float = 0.15,
    translate: float = 0.07,
    wobble: float = 0.06,
    stroke_min: float = 0.07,
    stroke_max: float = 0.13,
) -> Loaded:
    """Procedural 8×8 digits, 10 classes, parts train/val/test of n_train/n_val/n_test images.

    x (N, 1, 8, 8) float32 in [0, 1] on optdigits' grid of 17 grey levels; the default part
    sizes are those of ``digits`` (988 / 359 / 450 of its 1,797 after its stratified split), so a
    benchmark moved from ``digits`` trains on as many images of the same shape. Every image is
    an independent draw (module docstring), so no two test images share a writer.
    """
    if min(n_train, n_val, n_test) < 0:
        raise ValueError(f"digits_synth part sizes must be ≥ 0, got {n_train}, {n_val}, {n_test}")
    if not 0 < stroke_min <= stroke_max < 0.5:
        raise ValueError(f"digits_synth needs 0 < stroke_min ≤ stroke_max < 0.5, got {stroke_min}, {stroke_max}")
    knobs = {"rotation": rotation, "slant": slant, "scale": scale, "translate": translate, "wobble": wobble}
    if any(v < 0 for v in knobs.values()):
        raise ValueError(f"digits_synth's distortion sizes must be ≥ 0, got {knobs}")
    sizes = {"train": n_train, "val": n_val, "test": n_test}
    parts = {
        name: draw_part(
            n, torch_generator(seed, "data", "digits_synth", name), stroke=(stroke_min, stroke_max), **knobs
        )
        for name, n in sizes.items()
    }
    info = DatasetInfo(
        name="digits_synth",
        num_classes=10,
        input_shape=(1, 8, 8),
        flip_invariant=False,
        details={"source": "generated strokes, optdigits' 32×32 → 8×8 block counts", **sizes, **knobs},
    )
    return Loaded(info, parts)
