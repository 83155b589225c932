"""Build the Blender extension zip: dist/pointkit_blender-<version>.zip (``make addon``).

The zip holds the files of blender_addon/pointkit_blender at its root, as Blender 4.2+'s
"Install from Disk" and ``blender --command extension build`` expect (blender_manifest.toml at
the top). Standard library only, so any Python 3.11+ runs it.
"""

from __future__ import annotations

import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "blender_addon" / "pointkit_blender"


def build(out_dir: Path = ROOT / "dist") -> Path:
    manifest = tomllib.loads((SOURCE / "blender_manifest.toml").read_text())
    files = sorted(p for p in SOURCE.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{manifest['id']}-{manifest['version']}.zip"
    tmp = target.with_suffix(".zip.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in files:
                zf.write(path, path.relative_to(SOURCE).as_posix())
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)  # only left on a failure: no half-written zip beside the real one
    return target


if __name__ == "__main__":
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "dist"))
