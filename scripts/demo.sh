#!/usr/bin/env bash
# The main job, end to end: lift the shipped example image (examples/venus_de_milo_cast.png) to a
# textured mesh with the default model shipped in the package (no --checkpoint), and preview the mesh.
# Usage: bash scripts/demo.sh PYTHON OUT_DIR   (make demo passes the venv's python and out/demo)
set -euo pipefail
PY="${1:-.venv/bin/python}"
OUT="${2:-out/demo}"
mkdir -p "$OUT"

# A realistic input: a photo-style Blender render of SMK's CC0 plaster cast of the Venus de Milo
# in a hall (examples/README.md says how it was made and credits the assets).
cp "$(dirname "$0")/../examples/venus_de_milo_cast.png" "$OUT/sample.png"

"$PY" -m pointkit_cli.main lift "$OUT/sample.png" --out "$OUT" --format glb
"$PY" -m pointkit_cli.main view "$OUT/sample.glb" --out "$OUT/sample_turntable.png" --views 5 --arc 150

echo "demo outputs in $OUT:"
echo "  input image      $OUT/sample.png  (a copy of examples/venus_de_milo_cast.png)"
echo "  textured mesh    $OUT/sample.glb"
echo "  depth (float32)  $OUT/sample_depth.npy  (16-bit: sample_depth.png, colour: sample_depth_color.png)"
echo "  mask             $OUT/sample_mask.png"
echo "  turntable        $OUT/sample_turntable.png"
