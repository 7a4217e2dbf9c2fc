"""Training-time augmentation: a small random affine distortion per image, as a person's hand
varies from drawing to drawing. One batched ``grid_sample``; seeded by the caller's generator."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def random_affine(images: torch.Tensor, generator: torch.Generator, rotate_deg: float = 10.0,
                  scale: float = 0.1, shear: float = 0.1, shift: float = 0.08) -> torch.Tensor:
    """uint8 or float images [..., C, H, W] -> float in [0, 1], each one rotated, scaled, sheared
    and shifted (shift as a fraction of the image side) by its own random amount."""
    shape = images.shape
    x = images.reshape(-1, *shape[-3:])
    x = x.float() / 255 if x.dtype == torch.uint8 else x.float()
    n, g = x.shape[0], generator

    def uniform(amount):
        return (torch.rand(n, generator=g) * 2 - 1) * amount

    angle, s, sh = uniform(math.radians(rotate_deg)), 1 + uniform(scale), uniform(shear)
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1] = cos / s, (-sin + sh) / s
    theta[:, 1, 0], theta[:, 1, 1] = sin / s, cos / s
    theta[:, :, 2] = torch.stack([uniform(2 * shift), uniform(2 * shift)], 1)  # grid units span 2
    grid = F.affine_grid(theta.to(x.device), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, padding_mode="zeros", align_corners=False).reshape(shape)
