#!/usr/bin/env bash
# One prepared run on a lent GPU machine (issues 14, 20, 23): the CUDA checks, the GPU benchmarks,
# then LiftNet training from shape banks (train --synth) until a deadline; results land in $OUT.
#
# The GPU machine has torch (and numpy, click, safetensors, tqdm, opencv) but no network, and gets
# at most 64 MiB of working tree: the shape banks travel (render-synthetic --bank, ~6 MB per 300
# sculptures) and every training image is made there by pointkit.engine.
#
#   OUT=DIR SECONDS_TOTAL=520 scripts/gpu_run.sh BANK_DIR [INIT_CHECKPOINT]
#
# BANK_DIR holds *.npz banks (all pooled). Side by side on the one GPU, with one seed and the same
# data, fresh LiftNets (ngf 24) differ only in what RUNS says: space-separated NAME=LOSS,SIZE,MASK_WEIGHT
# (default "corr=corr,128,1 ssi=ssi,128,1 corrssi=corr+ssi,128,1", issue 20's limits table). With
# INIT_CHECKPOINT a further run, "finetune", fine-tunes it with the correspondence loss (lr FT_LR,
# default 2e-4; RUNS="" trains the fine-tune alone). Every run
# keeps its model at each step of KEEP_STEPS (default "500 1000": 32k and 64k pairs at batch 64, so
# runs compare at an equal number of images) beside its best checkpoint at the deadline. Rehearse on
# a CPU with TINY=1 (tiny sizes, MAX_STEPS=10 steps, so that a slow machine still reaches every
# kept step); SKIP_BENCH=1 leaves out the tests and benchmarks (tests/test_gpu_script.py does).
# Output (the transfer back takes at most 8 files, 64 MiB together): $OUT/log.txt (everything) and
# $OUT/results.tar, split into results.tar.part-NN of 15 MiB when larger (`cat
# results.tar.part-* > results.tar`): bench.jsonl (one JSON line per benchmark) and per run
# <run>/{run.json,train.csv,val.csv,best.safetensors,stepN.safetensors}, the weights in float16
# (`pointkit export fp16`).
set -uo pipefail
BANKS=$(realpath -s "${1:?give the folder of shape banks}")   # absolute: the benchmarks run from benchmarks/
cd "$(dirname "$0")/.."
INIT=${2:-}
OUT=${OUT:?set OUT to the results folder}
PY=${PY:-python3}
case "$PY" in */*) PY=$(realpath -s "$PY") ;; esac   # the benchmarks run from benchmarks/
TOTAL=${SECONDS_TOTAL:-520}
START=$(date +%s)
mkdir -p "$OUT"
exec > >(tee -a "$OUT/log.txt") 2>&1
export PYTHONUNBUFFERED=1 TQDM_MININTERVAL=10

left() { echo $(( TOTAL - ($(date +%s) - START) )); }
stage() { echo "=== $(date +%T) (+$(( $(date +%s) - START )) s) $*"; }

if [ "${TINY:-0}" = 1 ]; then
    DEV=cpu; SIZE_BENCH=64; NGF_BENCH=8; BATCH_BENCH=4; REPEATS=2; CAM_BATCH=4; ENG_BATCH=2
    TRAIN=(--batch-size 4 --val-every 5 --checkpoint-every 5 --threads 2); NGF=8; SIZE_DIV=4; MAX_STEPS=${MAX_STEPS:-10}
else
    DEV=cuda; SIZE_BENCH=256; NGF_BENCH=64; BATCH_BENCH=128; REPEATS=10; CAM_BATCH=64; ENG_BATCH=32
    # ngf 24 (4.3 M parameters, 8.5 MB in float16): three fresh runs x 2 checkpoints fit the transfer back
    TRAIN=(--batch-size 64 --val-every 250 --checkpoint-every 250 --threads 3); NGF=24; SIZE_DIV=1; MAX_STEPS=1000000
fi

stage "machine"
nvidia-smi -L 2>/dev/null || echo "no nvidia-smi"
$PY -c "import torch, numpy; print('torch', torch.__version__, 'numpy', numpy.__version__, 'cuda', torch.cuda.is_available())"
# Run from the checkout, not installed: the model registry's entry points come from a minimal
# dist-info made from pyproject.toml (no pip, no build backend needed there).
SITE=$(mktemp -d)
trap 'rm -rf "$SITE"' EXIT
$PY - "$SITE" <<'PYEOF'
import pathlib, sys, tomllib
project = tomllib.loads(pathlib.Path("pyproject.toml").read_text())["project"]
info = pathlib.Path(sys.argv[1]) / f"pointkit-{project['version']}.dist-info"
info.mkdir()
(info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: pointkit\nVersion: {project['version']}\n")
(info / "entry_points.txt").write_text("".join(
    f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()) for group, eps in project["entry-points"].items()))
PYEOF
export PYTHONPATH="$PWD:$PWD/cli:$SITE${PYTHONPATH:+:$PYTHONPATH}"
mapfile -t BANK_FILES < <(ls "$BANKS"/*.npz)
[ ${#BANK_FILES[@]} -gt 0 ] || { echo "no *.npz shape banks in $BANKS: make them with scripts/prepare_gpu_carry.sh" >&2; exit 1; }
SYNTH=(); for b in "${BANK_FILES[@]}"; do SYNTH+=(--synth "$b"); done
echo "banks: ${BANK_FILES[*]}"

if [ "${SKIP_BENCH:-0}" != 1 ]; then
stage "benchmark: camera (B=$CAM_BATCH, N=1000)"
(cd benchmarks && timeout 45 $PY camera.py --device $DEV --batch $CAM_BATCH --n 1000 --repeats $REPEATS) | tee -a "$OUT/bench.jsonl"
stage "benchmark: train step ($SIZE_BENCH px, ngf $NGF_BENCH, batch $BATCH_BENCH)"
(cd benchmarks && timeout 100 $PY train_step.py --device $DEV --size $SIZE_BENCH --ngf $NGF_BENCH \
    --batch $BATCH_BENCH --runs $REPEATS --warmup 3) | tee -a "$OUT/bench.jsonl"
stage "benchmark: engine (128 px, batch $ENG_BATCH, zoom 1.25)"
ENGINE_BANK=$(ls "${BANK_FILES[@]}" | grep -m1 sculptures || echo "${BANK_FILES[0]}")   # 300 shapes, as before
(cd benchmarks && timeout 60 $PY engine.py --device $DEV --bank "$ENGINE_BANK" --batch $ENG_BATCH \
    --runs $REPEATS --zoom 1.25) | tee -a "$OUT/bench.jsonl"
fi

# Training: fresh LiftNets as RUNS says and, with INIT, a fine-tune of it, side by side.
KEEP_STEPS=${KEEP_STEPS:-500 1000}
KEEP_EVERY=$(echo $KEEP_STEPS | tr ' ' '\n' | $PY -c "import math, sys; print(math.gcd(*map(int, sys.stdin.read().split())))")
COMMON=(train "${SYNTH[@]}" --synth-zoom 1,1.5 --corr-per-pair 200 --mask-head --optimizer adamw
        --steps $MAX_STEPS --patience 0 --seed 0 --device $DEV --amp auto --keep-every "$KEEP_EVERY" "${TRAIN[@]}")
RUNS_STARTED=(); PIDS=()
stage "training until +$TOTAL s ($(left) s left)"
for spec in ${RUNS-corr=corr,128,1 ssi=ssi,128,1 corrssi=corr+ssi,128,1}; do
    IFS=, read -r loss size mask_weight <<< "${spec#*=}"
    r=${spec%%=*}
    $PY -m pointkit_cli.main -q "${COMMON[@]}" --input-size $(( size / SIZE_DIV )) --ngf $NGF --loss "$loss" \
        --mask-weight "$mask_weight" --prior none --lr 5e-4 --out "$OUT/work/$r" > "$OUT/work-$r.out" 2>&1 &
    PIDS+=($!); RUNS_STARTED+=("$r")
done
if [ -n "$INIT" ]; then
    $PY -m pointkit_cli.main -q "${COMMON[@]}" --loss corr --mask-weight 1 --init "$INIT" --lr "${FT_LR:-2e-4}" \
        --out "$OUT/work/finetune" > "$OUT/work-finetune.out" 2>&1 &
    PIDS+=($!); RUNS_STARTED+=(finetune)
fi
if [ "${SKIP_BENCH:-0}" != 1 ] && [ "$DEV" = cuda ]; then   # beside training: correctness only, no timing
    timeout 150 $PY -m pytest -q -p no:cacheprovider tests/test_engine_stream.py > "$OUT/work-cuda-tests.out" 2>&1 &
fi
while [ "$(left)" -gt 25 ] && kill -0 "${PIDS[@]}" 2>/dev/null; do sleep 5; done
kill -TERM "${PIDS[@]}" 2>/dev/null; wait "${PIDS[@]}" 2>/dev/null

stage "results"
nvidia-smi --query-gpu=name,memory.used --format=csv 2>/dev/null
[ -f "$OUT/work-cuda-tests.out" ] && { echo "--- CUDA tests:"; tail -n 5 "$OUT/work-cuda-tests.out"; }
PACK=$OUT/pack
mkdir -p "$PACK"
[ -f "$OUT/bench.jsonl" ] && mv "$OUT/bench.jsonl" "$PACK/"
# The weights go back in float16, halved in one process (one torch import, not one per file), in
# order of need: each run's best, then its model at each KEEP_STEPS step in turn. One that would take
# the results past BACK_MIB (the transfer back takes 64 MiB together, the log included) is left out.
HALVE=()   # src dst pairs
for r in "${RUNS_STARTED[@]}"; do
    d="$OUT/work/$r"
    echo "--- $r (last lines of its output):"; tail -n 5 "$OUT/work-$r.out"
    [ -f "$d/val.csv" ] && tail -n 3 "$d/val.csv"
    mkdir -p "$PACK/$r"
    for f in run.json train.csv val.csv; do [ -f "$d/$f" ] && cp "$d/$f" "$PACK/$r/"; done
    [ -f "$d/best.safetensors" ] && HALVE+=("$d/best.safetensors" "$PACK/$r/best.safetensors")
done
for k in $KEEP_STEPS; do
    for r in "${RUNS_STARTED[@]}"; do
        f="$OUT/work/$r/step-$(printf %06d "$k").safetensors"
        [ -f "$f" ] && HALVE+=("$f" "$PACK/$r/step$k.safetensors")
    done
done
[ ${#HALVE[@]} -gt 0 ] && $PY -c "
import json, pathlib, sys
from pointkit.models.liftnet import half_checkpoint
budget, pack, pairs = float(sys.argv[1]) * 2**20, pathlib.Path(sys.argv[2]), sys.argv[3:]
used = sum(p.stat().st_size for p in pack.rglob('*') if p.is_file())
for src, dst in zip(pairs[::2], pairs[1::2]):
    info = half_checkpoint(src, dst)
    if used + info['bytes'] > budget:
        pathlib.Path(dst).unlink()
        info = {'left_out': dst, 'bytes': info['bytes'], 'why': 'over BACK_MIB'}
    else:
        used += info['bytes']
    print(json.dumps(info))
" "${BACK_MIB:-60}" "$PACK" "${HALVE[@]}"
rm -rf "$OUT/work" "$OUT"/work-*.out
tar -cf "$OUT/results.tar" -C "$PACK" .
rm -rf "$PACK"
if [ "$(stat -c %s "$OUT/results.tar")" -gt $((15 * 1024 * 1024)) ]; then
    split -b 15M -d "$OUT/results.tar" "$OUT/results.tar.part-" && rm "$OUT/results.tar"
fi
ls -l "$OUT"
stage "done"
