#!/usr/bin/env bash
# Reduced-scale CPU reproduction of the paper's synthetic results (docs/results.md):
# Table 3 analogue (10 / 50 / 100 / all correspondences per pair), Table 4 analogue (LiftNet with and
# without robustness vs the supervised baseline vs flat depth), and a shapenet-preset test.
# CPU, reduced scale: 64 px network input (128 px renders resized), ngf 8, 400 steps of batch 16, AdamW.
# Usage: scripts/reproduce_cpu.sh [WORK_DIR]   (default /tmp/pkw); about 1 hour on 2 shared cores.
set -euo pipefail
cd "$(dirname "$0")/.."
PK=".venv/bin/pointkit -q"
W=${1:-/tmp/pkw}
R=$W/repro
SCANS=${POINTKIT_SHARED_DATA:-$(pwd)/../shared/data}/meshes/scans
mkdir -p "$R"
# Data: 400 procedural sculptures + the 14 scans of ../shared/data/meshes/scans (read in place);
# splits are by object (hash of the object id): train 90 % / val 5 % / test 5 %.
$PK render-synthetic --procedural 400 --out "$W/proc128" --resolution 128 --max-corr 0 --seed 0
$PK render-synthetic --meshes "$SCANS" --out "$W/scans128" --resolution 128 --max-corr 0 --seed 0
# Second preset, unseen shapes (another job seed): 40 sculptures x 10 shapenet-style views.
$PK render-synthetic --procedural 40 --preset shapenet --out "$W/shapenet128" --resolution 128 --max-corr 0 --seed 1

COMMON="$W/proc128 $W/scans128 --input-size 64 --ngf 8 --batch-size 16 --steps 400 --val-every 100
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
