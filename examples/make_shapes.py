"""Write ``shapes16.npz``: 2 000 synthetic 16×16 RGB images of 4 shapes, a labelled dataset that is not digits.

Each image is a random dark background with N(0, 20) noise and one shape (0 disc, 1 square, 2 triangle, 3 cross)
of random size, place and light colour; 500 images per class; uint8 ``x`` of shape ``(2000, 16, 16, 3)`` and integer
``y``. The worked example of ``docs/own_data.md`` trains on it::

    python examples/make_shapes.py /tmp/shapes16.npz
    kspectral train --dataset /tmp/shapes16.npz --encoder conv --augment cifar --epochs 20 --batch-size 128
"""

import sys

import numpy as np


def make_shapes(n=2000, side=16, seed=0):
    """``(x, y)``: ``n`` images ``(side, side, 3)`` uint8 and their shape labels 0–3."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:side, :side]
    x = np.empty((n, side, side, 3), np.uint8)
    y = np.arange(n) % 4
    for i, c in enumerate(y):
        image = rng.integers(0, 90, 3) + rng.normal(0, 20, (side, side, 3))
        r = rng.integers(3, 6)
        cy, cx = rng.integers(r, side - r, 2)
        if c == 0:
            mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        elif c == 1:
            mask = (abs(yy - cy) <= r - 1) & (abs(xx - cx) <= r - 1)
        elif c == 2:
            mask = (yy - cy >= -r) & (yy - cy <= r) & (abs(xx - cx) <= (yy - cy + r) / 2)
        else:
            mask = ((abs(yy - cy) <= r) & (abs(xx - cx) <= 1)) | ((abs(xx - cx) <= r) & (abs(yy - cy) <= 1))
        image[mask] = rng.integers(130, 256, 3)
        x[i] = np.clip(image, 0, 255).astype(np.uint8)
    return x, y


if __name__ == "__main__":
    path = sys.argv[1] if len(sys.argv) > 1 else "shapes16.npz"
    x, y = make_shapes()
    np.savez(path, x=x, y=y)
    print(f"wrote {path}: x {x.shape} {x.dtype}, {np.bincount(y).tolist()} images per class")
