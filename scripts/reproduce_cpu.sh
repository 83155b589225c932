#!/usr/bin/env bash
# Reduced-scale CPU reproduction of the paper's synthetic results (docs/results.md):
# Table 3 analogue (10 / 50 / 100 / all correspondences per pair), Table 4 analogue (LiftNet with and
# without robustness vs the supervised baseline vs flat depth), and a shapenet-preset test.
# CPU, reduced scale: 64 px network input (128 px renders resized), ngf 8, STEPS steps of batch 16, AdamW.
# Usage: [STEPS=2000] scripts/reproduce_cpu.sh [WORK_DIR]   (default /tmp/pkw); results in WORK_DIR/repro-sSTEPS.
# docs/results.md reports STEPS=400 (about 15 min on one core) and STEPS=2000 (about 45 min).
set -euo pipefail
cd "$(dirname "$0")/.."
PK=".venv/bin/pointkit -q"
W=${1:-/tmp/pkw}
STEPS=${STEPS:-2000}
R=$W/repro-s$STEPS
SCANS=${POINTKIT_SHARED_DATA:-$(pwd)/../shared/data}/meshes/scans
mkdir -p "$R"
# Data: 400 procedural sculptures + the 14 scans of ../shared/data/meshes/scans (read in place);
# splits are by object (hash of the object id): train 90 % / val 5 % / test 5 %.
$PK render-synthetic --procedural 400 --out "$W/proc128" --resolution 128 --max-corr 0 --seed 0
$PK render-synthetic --meshes "$SCANS" --out "$W/scans128" --resolution 128 --max-corr 0 --seed 0
# Second preset, unseen shapes (another job seed): 40 sculptures x 10 shapenet-style views.
$PK render-synthetic --procedural 40 --preset shapenet --out "$W/shapenet128" --resolution 128 --max-corr 0 --seed 1

COMMON="$W/proc128 $W/scans128 --input-size 64 --ngf 8 --batch-size 16 --steps $STEPS --val-every $((STEPS / 4))
        --patience 0 --optimizer adamw --lr 1e-3 --threads 1 --seed 0"
ev() {  # run-or-checkpoint, dataset, split, result name: evaluate once (skipped when done)
    [ -s "$4.json" ] || $PK eval "$1" "$2" --split "$3" --out "$4" > "$4.json"
}
run() {  # name, extra options
    local name=$1; shift
    [ -f "$R/$name/summary.json" ] || $PK train $COMMON --out "$R/$name" --resume "$@"
    ev "$R/$name" "$W/proc128" test "$R/$name/eval-proc"
    ev "$R/$name" "$W/scans128" test "$R/$name/eval-scans"
}
run corr-k100 --loss corr --corr-per-pair 100
run depth --loss depth
run corr-k100-noR --loss corr --corr-per-pair 100 --no-robust --no-ransac
run corr-k10 --loss corr --corr-per-pair 10
run corr-k50 --loss corr --corr-per-pair 50
run corr-all --loss corr --corr-per-pair 0
# Not in the paper: pin the free depth offset (see docs/results.md, "the paper's alignment").
run corr-k100-center --loss corr --corr-per-pair 100 --center-weight 1
$PK eval --baseline flat "$W/proc128" --split test --input-size 64 --out "$R/flat/eval-proc" > "$R/flat-eval-proc.json"
$PK eval --baseline flat "$W/scans128" --split test --input-size 64 --out "$R/flat/eval-scans" > "$R/flat-eval-scans.json"
for name in corr-k100 corr-k100-center depth; do
    ev "$R/$name" "$W/shapenet128" all "$R/$name/eval-shapenet"
done
$PK eval --baseline flat "$W/shapenet128" --split all --input-size 64 --out "$R/flat/eval-shapenet" > "$R/flat-eval-shapenet.json"
echo "all done"

# Fine-tuning on real photos (paper §4, issue 6), from the shipped default model, lr 1e-5 (the
# paper's). One training cluster (dino) and one validation cluster (temple): `pointkit match`
# splits clusters by a hash of the folder name, and "temple-sparse-ring" hashes to "val".
PHOTOS=${POINTKIT_SHARED_DATA:-$(pwd)/../shared/data}/photos
P=$W/photos
mkdir -p "$P/dinoSparseRing" "$P/temple-sparse-ring"
ln -sf "$PHOTOS"/dinoSparseRing/*.png "$P/dinoSparseRing/"
ln -sf "$PHOTOS"/templeSparseRing/*.png "$P/temple-sparse-ring/"
[ -f "$W/matched128/manifest.json" ] || $PK match "$P" --out "$W/matched128" --masks auto --resolution 128
[ -f "$W/finetune/summary.json" ] || $PK train "$W/matched128" --init pointkit/assets/liftnet-default.safetensors \
    --out "$W/finetune" --resume --steps 100 --batch-size 16 --val-every 10 --patience 5 --threads 1
echo "fine-tuning done"
