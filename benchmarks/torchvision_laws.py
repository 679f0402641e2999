"""Reference quantiles of torchvision's and PIL's augmentation laws, as solo-learn applies them.

Run with an environment that has PyTorch, torchvision and Pillow (kspectral's test suite needs none of them)::

    python benchmarks/torchvision_laws.py --out tests/data/torchvision_laws.json

For every setting of ``tests/augmentation_laws.py``'s ``SETTINGS``, the script draws the setting's probe images
(numpy, seeded), turns each into a PIL uint8 RGB image (as solo-learn's datasets give them; the crop's float
coordinate images go channel by channel as PIL ``"F"`` images with the same draws), applies the isolated
torchvision/PIL transform to each image (``torch.manual_seed`` and ``random.seed`` set once per setting), measures
every output with the shared functions, and writes the quantiles (with their distribution-free standard errors), the
rates, the number of images, the settings, the library versions and the date as JSON. For the colour and crop
settings it also records each measure's resolution on this path: the largest error of the measurement over a grid
of known factors or boxes applied with ``torchvision.transforms.functional`` (PIL's 8-bit arithmetic truncates
each blend, which moves the measured factors by up to about one grey level over the probe's spread); for the blur,
the σ measured on PIL's output at each radius of a table.
``tests/test_augmentation_laws.py`` compares kspectral's layers with these numbers.

The blur and the solarization reproduce solo-learn's own callables (``solo/data/pretrain_dataloader.py``):
``img.filter(ImageFilter.GaussianBlur(radius=random.uniform(0.1, 2.0)))`` and ``ImageOps.solarize(img)``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import random
import re
import sys
import time
from pathlib import Path

import numpy as np
import PIL
import torch
import torchvision
from PIL import Image, ImageFilter, ImageOps
from torchvision import transforms
from torchvision.transforms import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import augmentation_laws as laws  # noqa: E402


#: the radii of the blur's table of measured σ (finer where PIL's 8-bit output moves the measured σ in steps)
SIGMA_TABLE = np.round(np.r_[np.arange(0.10, 0.5, 0.01), np.arange(0.5, 2.0001, 0.05)], 2)


class GaussianBlur:
    """solo-learn's blur: PIL's ``GaussianBlur(radius=σ)``, ``σ ~ random.uniform(low, high)`` per image."""

    def __init__(self, sigma=(0.1, 2.0)):
        self.sigma = sigma

    def __call__(self, img):
        return img.filter(ImageFilter.GaussianBlur(radius=random.uniform(self.sigma[0], self.sigma[1])))


class Solarization:
    """solo-learn's solarization: ``PIL.ImageOps.solarize(img)`` (threshold 128)."""

    def __call__(self, img):
        return ImageOps.solarize(img)


def build(setting):
    """The torchvision transform of a setting of ``laws.SETTINGS``."""
    name, params = setting["transform"], dict(setting["params"])
    if name == "RandomResizedCrop":
        return transforms.RandomResizedCrop(params["size"], scale=params["scale"],
                                            interpolation=transforms.InterpolationMode.BICUBIC)
    if name == "ColorJitter":
        return transforms.ColorJitter(**params)
    if name == "RandomApply(ColorJitter)":
        p = params.pop("p")
        return transforms.RandomApply([transforms.ColorJitter(**params)], p=p)
    if name == "GaussianBlur":
        return GaussianBlur(params["sigma"])
    if name == "RandomApply(Solarization)":
        return transforms.RandomApply([Solarization()], p=params["p"])
    if name == "RandomGrayscale":
        return transforms.RandomGrayscale(p=params["p"])
    if name == "RandomHorizontalFlip":
        return transforms.RandomHorizontalFlip(p=params["p"])
    raise ValueError(f"unknown transform {name!r}")


def rounded(values, digits=6):
    """Floats to ``digits`` significant digits (far below every sampling error), for a compact file."""
    return [float(f"{float(v):.{digits}g}") for v in values]


def channels_as_float_images(image):
    """The channels of a float image ``(H, W, 3)`` as three PIL ``"F"`` images."""
    return [Image.fromarray(np.ascontiguousarray(image[..., c], dtype=np.float32), "F") for c in range(3)]


def apply_per_channel(transform, image):
    """``transform`` applied to each channel of a float image as a PIL ``"F"`` image, with the same random draws
    for the three (torch's generator state replayed), stacked back to ``(h, w, 3)``."""
    state = torch.get_rng_state()
    outputs = []
    for channel in channels_as_float_images(image):
        torch.set_rng_state(state)
        outputs.append(np.asarray(transform(channel), dtype=np.float32))
    return np.stack(outputs, axis=-1)


def apply(transform, image):
    """``transform`` on one probe image: a uint8 image as a PIL RGB image, a float one channel by channel."""
    if image.dtype == np.uint8:
        return np.asarray(transform(Image.fromarray(image, "RGB")), dtype=np.uint8)
    return apply_per_channel(transform, image)


def nominal_outputs(setting, images, grid):
    """The deterministic transform (``torchvision.transforms.functional``, which the random transforms call) at
    each known parameter of ``laws.nominal_grid``, one probe image each; float outputs in ``[0, 1]``."""
    if setting["transform"] == "RandomResizedCrop":
        size = [setting["params"]["size"]] * 2
        crop = (lambda img, box: F.resized_crop(img, *(int(v) for v in box), size,
                                                interpolation=transforms.InterpolationMode.BICUBIC))
        outputs = [np.stack([np.asarray(crop(channel, box)) for channel in channels_as_float_images(image)], axis=-1)
                   for image, box in zip(images, grid)]
        return laws.to_float(np.stack(outputs))
    (which,) = setting["params"]
    adjust = {"brightness": F.adjust_brightness, "contrast": F.adjust_contrast, "saturation": F.adjust_saturation,
              "hue": F.adjust_hue}[which]
    outputs = [np.asarray(adjust(Image.fromarray(image, "RGB"), float(value))) for image, value in zip(images, grid)]
    return laws.to_float(np.stack(outputs))


def sigma_table(edges, radii=SIGMA_TABLE):
    """The σ measured on PIL's ``GaussianBlur(radius=r)`` of the ``"edges"`` probe, for each radius ``r``."""
    outputs = np.stack([np.asarray(Image.fromarray(edges, "RGB").filter(ImageFilter.GaussianBlur(radius=float(r))))
                        for r in radii])
    measured = laws.blur_sigma(laws.to_float(np.repeat(edges[None], len(radii), axis=0)), laws.to_float(outputs))
    return {"nominal": [float(r) for r in radii], "measured": rounded(measured)}


def run_setting(name, setting, n, seed):
    """Apply one setting's transform to ``n`` probe images; its measured quantiles and rates."""
    images = laws.probe_images(setting["probe"], n)
    transform = build(setting)
    torch.manual_seed(seed)
    random.seed(seed)
    outputs = np.stack([apply(transform, image) for image in images])
    x, y = laws.to_float(images), laws.to_float(outputs)
    result = {"transform": setting["transform"], "params": setting["params"], "probe": setting["probe"], "n": n,
              "measures": {}, "rates": {}}
    for measure in setting.get("measures", ()):
        values = laws.MEASURES[measure](x, y)
        result["measures"][measure] = {"quantiles": rounded(laws.quantiles(values)),
                                       "errors": rounded(laws.quantile_errors(values)),
                                       "n": int(np.sum(~np.isnan(values)))}
    for rate in setting.get("rates", ()):
        flags = laws.RATES[rate](x, y)
        result["rates"][rate] = {"rate": float(np.mean(flags)), "n": n}
    grid = laws.nominal_grid(setting)
    if grid is not None:
        nominal = nominal_outputs(setting, images[: len(grid)], grid)
        for measure in setting.get("measures", ()):
            result["measures"][measure]["resolution"] = rounded(
                [laws.resolution(setting, measure, x[: len(grid)], nominal)])[0]
    if setting["transform"] == "GaussianBlur":
        result["sigma_table"] = sigma_table(images[0])
    if name.startswith("grayscale"):
        result["luma_weights"] = rounded(laws.luma_weights(x, y))
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("tests/data/torchvision_laws.json"))
    parser.add_argument("--n", type=int, default=4000, help="images per setting")
    parser.add_argument("--seed", type=int, default=0, help="torch and random seed of the transforms")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    start = time.perf_counter()
    settings = {}
    for name, setting in laws.SETTINGS.items():
        t = time.perf_counter()
        settings[name] = run_setting(name, setting, args.n, args.seed)
        summary = {m: [round(q, 4) for q in v["quantiles"]] for m, v in settings[name]["measures"].items()}
        summary.update({r: round(v["rate"], 4) for r, v in settings[name]["rates"].items()})
        print(f"{name:22s} {time.perf_counter() - t:6.1f} s  {summary}", flush=True)
    data = {
        "meta": {
            "generator": "benchmarks/torchvision_laws.py",
            "command": f"python benchmarks/torchvision_laws.py --out {args.out} --n {args.n} --seed {args.seed}",
            "date": datetime.date.today().isoformat(),
            "torch": torch.__version__, "torchvision": torchvision.__version__, "pillow": PIL.__version__,
            "numpy": np.__version__,
            "quantile_levels": list(laws.QUANTILES), "probe_seed": laws.PROBE_SEED, "transform_seed": args.seed,
            "n_per_setting": args.n, "seconds": round(time.perf_counter() - start, 1),
        },
        "settings": settings,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=1)
    text = re.sub(r"\[\s*([-0-9.e,\s]+?)\s*\]", lambda m: "[" + re.sub(r"\s+", " ", m.group(1)) + "]", text)
    args.out.write_text(text + "\n")
    print(f"wrote {args.out} in {data['meta']['seconds']} s")


if __name__ == "__main__":
    main()
