#!/usr/bin/env bash
# Trains the default LiftNet shipped as pointkit/assets/liftnet-default.safetensors (docs/model-card.md).
#
# Data (only what a shipped model may learn from, credited in the model card):
#   - 1600 procedural sculptures (pointkit's shape grammar), photo style over TRAINING backgrounds;
#   - the shippable real scans: ../shared/data/meshes/permissive (CC BY / CC0; the SMK Venus cast is
#     held out for the demo image) + the four CC BY 4.0 GGG-BenchmarkSfM scans, 8 appearance seeds.
# Test-only scans and held-out backgrounds never enter (benchmarks/real_scans.py scores on them).
#
# Modes (MODE=cpu is the one the shipped model used; see the model card for hardware and time):
#   MODE=cpu   2 CPU threads, 128 px, ngf 16, STEPS steps (default 4000).
#   MODE=gpu   is a different script: a lent GPU machine has no network and gets 64 MiB of working
#              tree, so its data come from shape banks (train --synth): scripts/gpu_run.sh,
#              docs/training.md "On a lent GPU machine". This script says so and stops.
#
# Usage: MODE=cpu STEPS=4000 scripts/train_default_model.sh [WORK_DIR]   (default /tmp/pkw)
#        SHIP=1 also copies best.safetensors into the package (only after it beat v1 on every test).
set -euo pipefail
cd "$(dirname "$0")/.."
PK=.venv/bin/pointkit
PY=.venv/bin/python
W=${1:-/tmp/pkw}
MODE=${MODE:-cpu}
STEPS=${STEPS:-4000}
DATA=${POINTKIT_SHARED_DATA:-$(pwd)/../shared/data}
if [ "$MODE" != cpu ]; then
    echo "MODE=$MODE: this script is the CPU recipe; on a GPU machine run scripts/gpu_run.sh (docs/training.md)" >&2
    exit 1
fi

mkdir -p "$W/shippable"
for f in "$DATA"/meshes/permissive/*.ply "$DATA"/meshes/permissive/*.glb; do
    case "$(basename "$f")" in smk_venus_de_milo_cast.glb) continue ;; esac   # the demo image's statue
    ln -sf "$(realpath "$f")" "$W/shippable/"
done
for f in birdBath blackVase plasticVase seaVase; do ln -sf "$(realpath "$DATA/meshes/scans/${f}_decimated.ply")" "$W/shippable/"; done

COMMON=(--resolution 128 --preset turntable --max-corr 200 --option style=photo --option backgrounds=train)
OMP_NUM_THREADS=1 $PK -q render-synthetic --procedural 1600 --out "$W/proc-photo128" "${COMMON[@]}" --seed 1 --workers 2
SHIP_SETS=()
for s in 1 2 3 4 5 6 7 8; do
    OMP_NUM_THREADS=1 $PK -q render-synthetic --meshes "$W/shippable" --out "$W/ship-photo128-s$s" "${COMMON[@]}" --seed "$s" --workers 2
    SHIP_SETS+=("$W/ship-photo128-s$s")
done

$PK train "$W/proc-photo128" "${SHIP_SETS[@]}" --out "$W/v2" --resume --loss corr --corr-per-pair 200 \
    --input-size 128 --ngf 16 --mask-head --mask-weight 1.0 --prior silhouette --prior-dropout 0.5 \
    --optimizer adamw --lr 5e-4 --batch-size 16 --steps "$STEPS" --val-every 1000 --patience 0 \
    --checkpoint-every 100 --threads 2 --seed 0

$PY benchmarks/real_scans.py --checkpoint "$W/v2/best.safetensors" --json "$W/v2/real_scans.json"
$PY benchmarks/real_photos.py --checkpoint "$W/v2/best.safetensors" --json "$W/v2/real_photos.json"
if [ "${SHIP:-0}" = 1 ]; then
    cp "$W/v2/best.safetensors" pointkit/assets/liftnet-default.safetensors
fi
