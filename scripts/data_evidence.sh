#!/usr/bin/env bash
# Issue 9's evidence that the new data matters (docs/results.md, "Old data vs new data"):
# the same small network (128 px, ngf 16, mask head, no prior, same steps and seed) trained on
#   old: pointkit's first data -- 400 abstract procedural sculptures (blob/vase/twist/union) and the
#        four CC BY scans, plain Lambertian style, sketchfab views;
#   new: the v2 data -- 1600 shape-grammar sculptures and the shippable scans, photo style,
#        turntable views (made by scripts/train_default_model.sh);
# each with the correspondence loss and supervised (aligned MSE on depth), then scored by
# benchmarks/real_scans.py on the ten test-only scans over held-out backgrounds.
# Usage: STEPS=400 scripts/data_evidence.sh [WORK_DIR]   (WORK_DIR as for train_default_model.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
PK=.venv/bin/pointkit
PY=.venv/bin/python
W=${1:-/tmp/pkw}
STEPS=${STEPS:-400}
DATA=${POINTKIT_SHARED_DATA:-$(pwd)/../shared/data}

mkdir -p "$W/ccby"
for f in birdBath blackVase plasticVase seaVase; do ln -sf "$(realpath "$DATA/meshes/scans/${f}_decimated.ply")" "$W/ccby/"; done
OMP_NUM_THREADS=1 $PK -q render-synthetic --procedural 400 --families blob,vase,twist,union --out "$W/old-proc128" \
    --resolution 128 --max-corr 200 --seed 0 --workers 2
OMP_NUM_THREADS=1 $PK -q render-synthetic --meshes "$W/ccby" --out "$W/old-ccby128" --resolution 128 --max-corr 200 --seed 0

OLD=("$W/old-proc128" "$W/old-ccby128")
NEW=("$W/proc-photo128")
for s in 1 2 3 4 5 6 7 8; do NEW+=("$W/ship-photo128-s$s"); done
for data in old new; do
    for loss in corr depth; do
        run="$W/evidence-$data-$loss"
        if [ "$data" = old ]; then sets=("${OLD[@]}"); else sets=("${NEW[@]}"); fi
        $PK -q train "${sets[@]}" --out "$run" --resume --loss "$loss" --corr-per-pair 200 --input-size 128 --ngf 16 \
            --mask-head --optimizer adamw --lr 5e-4 --batch-size 16 --steps "$STEPS" --val-every "$STEPS" \
            --val-pairs 256 --patience 0 --checkpoint-every 100 --threads 2 --seed 0
        $PY benchmarks/real_scans.py --checkpoint "$run/last.safetensors" --threads 2 --cache "$W/testviews.npz" \
            --json "$run/real_scans.json"
    done
done
