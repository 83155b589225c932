#!/usr/bin/env bash
# Makes, here on the CPU, what scripts/gpu_run.sh needs on a lent GPU machine, then rehearses that
# script on the CPU with tiny sizes (DEVELOPERS.md, "A lent GPU"):
#
#   scripts/prepare_gpu_carry.sh [DIR]        (default gpu-carry; COUNT=300 sculptures per bank)
#
# DIR/banks/: shape-grammar sculptures (render-synthetic --bank --procedural COUNT, seeds 1 and 2)
# and the shippable scans that a 64^3 SDF holds, each bank with the photo style's training assets.
# Left out: the test-only scans, the SMK Venus cast (the demo image's statue) and five scans not
# closed enough for an SDF (their traced silhouettes are speckled): birdBath, blackVase, seaVase,
# demosthenes, guanyin. DIR is not ignored by git on purpose: the device tool carries untracked,
# unignored files (64 MiB in all): each bank holds 7 MB of assets, 2 x 300 sculptures + 14 scans
# come to about 35 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-gpu-carry}
COUNT=${COUNT:-300}
PK=${PK:-.venv/bin/pointkit}
PY=${PY:-.venv/bin/python}
DATA=${POINTKIT_SHARED_DATA:-$(pwd)/../shared/data}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$DIR/banks"

for seed in 1 2; do
    OMP_NUM_THREADS=1 $PK -q render-synthetic --bank --procedural "$COUNT" --seed "$seed" --out "$WORK/s$seed" --workers 2
    mv "$WORK/s$seed/bank.npz" "$DIR/banks/sculptures-s$seed.npz"
done

mkdir -p "$WORK/scans"
for f in "$DATA"/meshes/permissive/*.ply "$DATA"/meshes/permissive/*.glb \
         "$DATA"/meshes/scans/plasticVase_decimated.ply; do
    case "$(basename "$f")" in
        smk_venus_de_milo_cast.glb | demosthenes_* | marchal_guanyin_*) continue ;;
    esac
    ln -s "$(realpath "$f")" "$WORK/scans/"
done
OMP_NUM_THREADS=1 $PK -q render-synthetic --bank --meshes "$WORK/scans" --seed 1 --out "$WORK/scan-bank" --workers 2
mv "$WORK/scan-bank/bank.npz" "$DIR/banks/scans.npz"
du -sh "$DIR/banks"/*.npz

# The rehearsal: gpu_run.sh end to end on the CPU (tiny network, a 200 s deadline).
TINY=1 SECONDS_TOTAL=200 PY="$PY" OUT="$WORK/rehearsal" bash scripts/gpu_run.sh "$DIR/banks"
tar -tf "$WORK/rehearsal/results.tar" | grep -qx ./corr/best.safetensors \
    || { echo "rehearsal made no checkpoint: see the log above" >&2; exit 1; }
echo "ready: on the GPU machine run  SECONDS_TOTAL=515 bash scripts/gpu_run.sh $DIR/banks [INIT_CHECKPOINT]"
