#!/usr/bin/env bash
# Trains the default LiftNet shipped as pointkit/assets/liftnet-default.safetensors (docs/model-card.md).
# Data: procedural sculptures + ONLY the four CC BY 4.0 GGG-BenchmarkSfM scans (Ivan Nikolov),
# read in place from ../shared/data/meshes/scans through a folder of symlinks.
# Hardware of the shipped model: CPU (2 cores, 1 torch thread), no GPU; about 45 minutes (2000 steps).
# Usage: scripts/train_default_model.sh [WORK_DIR]   (default /tmp/pkw)
set -euo pipefail
cd "$(dirname "$0")/.."
PK=.venv/bin/pointkit
W=${1:-/tmp/pkw}
SCANS=${POINTKIT_SHARED_DATA:-$(pwd)/../shared/data}/meshes/scans
mkdir -p "$W/ccby"
for f in birdBath blackVase plasticVase seaVase; do ln -sf "$SCANS/${f}_decimated.ply" "$W/ccby/"; done
$PK -q render-synthetic --procedural 400 --out "$W/proc128" --resolution 128 --max-corr 0 --seed 0
$PK -q render-synthetic --meshes "$W/ccby" --out "$W/ccby128" --resolution 128 --max-corr 0 --seed 0
$PK train "$W/proc128" "$W/ccby128" --out "$W/default-model" --resume --loss corr --corr-per-pair 200 \
    --input-size 128 --ngf 16 --mask-head --mask-weight 1.0 --optimizer adamw --lr 5e-4 \
    --batch-size 16 --steps 2000 --val-every 200 --patience 0 --checkpoint-every 100 --threads 1 --seed 0
cp "$W/default-model/best.safetensors" pointkit/assets/liftnet-default.safetensors
$PK eval pointkit/assets/liftnet-default.safetensors "$W/proc128" --split test --out "$W/default-model/eval-test"
