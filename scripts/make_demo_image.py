"""Render examples/venus_de_milo_cast.png: a photo-style Blender render of SMK's CC0 plaster cast
of the Venus de Milo, for `make demo`, and its true object mask beside it
(venus_de_milo_cast_mask.png, white = statue), which benchmarks/demo_mask.py scores lift's mask on.

Usage: .venv/bin/python scripts/make_demo_image.py [--out examples/venus_de_milo_cast.png]
Needs the Blender plugin (bpy) and the appearance assets (/work/shared/data/appearance, or
$POINTKIT_APPEARANCE); the mesh is read from /work/shared/data/meshes/permissive (or --mesh).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

from pointkit.render import render_views

ROOT = Path(__file__).resolve().parents[1]
MESH = ROOT / ".." / "shared" / "data" / "meshes" / "permissive" / "smk_venus_de_milo_cast.glb"
# Everything below is fixed, so the image is reproducible.
VIEW = (25.0, 6.0)  # azimuth, elevation (degrees): a 3/4 view from slightly above
OPTIONS = dict(
    style="photo",
    material="plaster",
    tint=(0.78, 0.75, 0.69),  # warm off-white plaster (linear RGB)
    hdri="vestibule",  # CC0 Poly Haven interior HDRI
    background="hdriview_vestibule_y220",  # a view of the same CC0 HDRI: the room she stands in
    key_light=0.0,
    exposure=-1.6,
    samples=64,
    denoise=True,
    effects=True,
)
SEED = 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mesh", default=str(MESH))
    parser.add_argument("--out", default=str(ROOT / "examples" / "venus_de_milo_cast.png"))
    parser.add_argument("--resolution", type=int, default=384)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    view = render_views(args.mesh, [VIEW], args.resolution, renderer="blender", seed=args.seed, margin=0.04, **OPTIONS)[
        0
    ]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(view.image).save(out, optimize=True)
    mask = out.with_name(f"{out.stem}_mask.png")
    Image.fromarray(view.mask.astype("uint8") * 255).save(mask, optimize=True)
    print(f"wrote {out} ({out.stat().st_size // 1024} KB, background {view.background}) and {mask}")


if __name__ == "__main__":
    main()
