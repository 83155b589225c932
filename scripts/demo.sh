#!/usr/bin/env bash
# The main job, end to end: render a sample image with pointkit itself, lift it to a textured mesh
# with the default model shipped in the package (no --checkpoint), and preview the mesh.
# Usage: bash scripts/demo.sh PYTHON OUT_DIR   (make demo passes the venv's python and out/demo)
set -euo pipefail
PY="${1:-.venv/bin/python}"
OUT="${2:-out/demo}"
mkdir -p "$OUT"

# A procedural sculpture from the test split (never seen in training), one 256x256 view.
"$PY" - "$OUT/sample.png" <<'PYEOF'
import sys
from PIL import Image
from pointkit.render import render_views, sculpture, split_of
from pointkit.render.procedural import sculpture_id

index = next(i for i in range(1000) if split_of(sculpture_id(i), 0) == "test")
view = render_views(sculpture(0, index), [(30.0, 0.0)], 256, seed=index)[0]
Image.fromarray(view.image).save(sys.argv[1])
PYEOF

"$PY" -m pointkit_cli.main lift "$OUT/sample.png" --out "$OUT" --format glb
"$PY" -m pointkit_cli.main view "$OUT/sample.glb" --out "$OUT/sample_turntable.png" --views 5 --arc 150

echo "demo outputs in $OUT:"
echo "  input image      $OUT/sample.png"
echo "  textured mesh    $OUT/sample.glb"
echo "  depth (float32)  $OUT/sample_depth.npy  (16-bit: sample_depth.png, colour: sample_depth_color.png)"
echo "  mask             $OUT/sample_mask.png"
echo "  turntable        $OUT/sample_turntable.png"
