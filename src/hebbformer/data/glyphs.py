"""A procedural, Omniglot-like data set: random stroke glyphs, generated in a second, no download.

Each class is a character made of a few strokes (quadratic Bezier curves through random control
points); each drawing of it jitters the control points, the pen width and a small affine transform,
the way different people draw the same character. The rasteriser is vectorised: a pixel's ink is a
soft function of its distance to the nearest stroke segment, computed for thousands of drawings at
once. Unlimited classes; the same seed always gives the same images.
"""

from __future__ import annotations

import math

import torch

STROKE_POINTS = 7  # points sampled along each Bezier stroke (6 segments)


def _class_strokes(n_classes: int, g: torch.Generator) -> torch.Tensor:
    """Control points [classes, strokes=4, 3, 2] in the unit square; strokes beyond a class's
    count (2 to 4) are marked by NaN and drawn as nothing."""
    ctrl = 0.15 + 0.7 * torch.rand(n_classes, 4, 3, 2, generator=g)
    n_strokes = torch.randint(2, 5, (n_classes,), generator=g)
    unused = torch.arange(4)[None, :] >= n_strokes[:, None]
    ctrl[unused] = float("nan")
    return ctrl


def _drawings(ctrl: torch.Tensor, n_drawings: int, g: torch.Generator):
    """Jittered copies: [classes, drawings, strokes, 3, 2] control points and pen widths."""
    c, s = ctrl.shape[0], ctrl.shape[1]
    pts = ctrl[:, None] + 0.035 * torch.randn(c, n_drawings, s, 3, 2, generator=g)
    angle = (torch.rand(c, n_drawings, generator=g) - 0.5) * math.radians(20)
    scale = 0.9 + 0.2 * torch.rand(c, n_drawings, generator=g)
    shift = 0.05 * (torch.rand(c, n_drawings, 1, 1, 2, generator=g) - 0.5) * 2
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    rot = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)  # [c, d, 2, 2]
    centred = pts - 0.5
    pts = torch.einsum("cdij,cdskj->cdski", rot, centred) + 0.5 + shift
    width = 0.025 + 0.02 * torch.rand(c, n_drawings, generator=g)
    return pts, width


def _rasterise(pts: torch.Tensor, width: torch.Tensor, size: int) -> torch.Tensor:
    """Ink in [0, 1]: [n, size, size] from control points [n, strokes, 3, 2] and widths [n]."""
    t = torch.linspace(0, 1, STROKE_POINTS)[:, None]
    p0, p1, p2 = pts[..., 0:1, :], pts[..., 1:2, :], pts[..., 2:3, :]
    curve = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t ** 2 * p2  # [n, s, P, 2]
    a = curve[..., :-1, :].flatten(1, 2)  # segment starts [n, S, 2]
    b = curve[..., 1:, :].flatten(1, 2)
    grid = (torch.arange(size) + 0.5) / size
    yy, xx = torch.meshgrid(grid, grid, indexing="ij")
    px, py = xx.reshape(1, -1), yy.reshape(1, -1)  # [1, H*W]
    # Running minimum over segments keeps memory at [n, H*W] (a [n, H*W, segments] tensor is slow).
    best = torch.full((a.shape[0], size * size), float("inf"))
    for s in range(a.shape[1]):
        ax, ay = a[:, s, 0:1], a[:, s, 1:2]
        dx, dy = b[:, s, 0:1] - ax, b[:, s, 1:2] - ay
        vx, vy = px - ax, py - ay
        h = ((vx * dx + vy * dy) / (dx * dx + dy * dy).clamp_min(1e-9)).clamp(0, 1)
        d2 = (vx - h * dx) ** 2 + (vy - h * dy) ** 2
        best = torch.minimum(best, torch.nan_to_num(d2, nan=float("inf")))  # NaN: unused stroke
    dist = best.sqrt()
    soft = 1.0 / size  # one pixel of anti-aliasing
    ink = ((width[:, None] - dist) / soft + 0.5).clamp(0, 1)
    return ink.view(-1, size, size)


def generate_glyphs(n_classes: int, n_drawings: int, size: int, seed: int) -> torch.Tensor:
    """uint8 images [classes, drawings, 1, size, size], ink bright on a dark background."""
    g = torch.Generator().manual_seed(seed)
    ctrl = _class_strokes(n_classes, g)
    pts, width = _drawings(ctrl, n_drawings, g)
    flat_pts, flat_w = pts.flatten(0, 1), width.flatten()
    chunks = [_rasterise(flat_pts[i:i + 4096], flat_w[i:i + 4096], size)
              for i in range(0, flat_pts.shape[0], 4096)]
    ink = torch.cat(chunks) if chunks else torch.zeros(0, size, size)
    return (ink * 255).round().to(torch.uint8).view(n_classes, n_drawings, 1, size, size)
