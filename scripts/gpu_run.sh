#!/usr/bin/env bash
# One prepared run on a lent GPU machine (issue 14): the CUDA checks, the GPU benchmarks, then
# LiftNet training from shape banks (train --synth) until a deadline; results land in $OUT.
#
# The GPU machine has torch (and numpy, click, safetensors, tqdm, opencv) but no network, and gets
# at most 64 MiB of working tree: the shape banks travel (render-synthetic --bank, ~6 MB per 300
# sculptures) and every training image is made there by pointkit.engine.
#
#   OUT=DIR SECONDS_TOTAL=520 scripts/gpu_run.sh BANK_DIR [INIT_CHECKPOINT]
#
# BANK_DIR holds *.npz banks (all pooled). With INIT_CHECKPOINT a second run fine-tunes it on the
# same data beside the fresh one. Rehearse on a CPU with TINY=1 (tiny sizes, a few steps);
# SKIP_BENCH=1 leaves out the tests and benchmarks (tests/test_gpu_script.py does).
# Output: $OUT/log.txt (everything), $OUT/bench.jsonl (one JSON line per benchmark) and per run
# $OUT/<run>.tar (run.json, train.csv, val.csv, best.safetensors; split into <run>.tar.part-*
# when over 15 MiB, the transfer limit per file: `cat <run>.tar.part-* > <run>.tar`).
set -uo pipefail
cd "$(dirname "$0")/.."
BANKS=${1:?give the folder of shape banks}
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
    DEV=cpu; SIZE_BENCH=64; NGF_BENCH=8; BATCH_BENCH=4; RUNS=2; CAM_BATCH=4; ENG_BATCH=2
    TRAIN=(--batch-size 4 --val-every 5 --checkpoint-every 5 --threads 2); FRESH=(--input-size 64 --ngf 8)
else
    DEV=cuda; SIZE_BENCH=256; NGF_BENCH=64; BATCH_BENCH=128; RUNS=10; CAM_BATCH=64; ENG_BATCH=32
    TRAIN=(--batch-size 64 --val-every 250 --checkpoint-every 250 --threads 6); FRESH=(--input-size 128 --ngf 32)
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
mapfile -t BANK_FILES < <(ls "$(realpath -s "$BANKS")"/*.npz)   # absolute: the benchmarks run from benchmarks/
SYNTH=(); for b in "${BANK_FILES[@]}"; do SYNTH+=(--synth "$b"); done
echo "banks: ${BANK_FILES[*]}"

if [ "${SKIP_BENCH:-0}" != 1 ]; then
stage "CUDA tests"
timeout 120 $PY -m pytest -q -p no:cacheprovider tests/test_engine_stream.py 2>&1 | tail -5

stage "benchmark: camera (B=$CAM_BATCH, N=1000)"
(cd benchmarks && timeout 60 $PY camera.py --device $DEV --batch $CAM_BATCH --n 1000 --repeats $RUNS) | tee -a "$OUT/bench.jsonl"
stage "benchmark: train step ($SIZE_BENCH px, ngf $NGF_BENCH, batch $BATCH_BENCH)"
(cd benchmarks && timeout 150 $PY train_step.py --device $DEV --size $SIZE_BENCH --ngf $NGF_BENCH \
    --batch $BATCH_BENCH --runs $RUNS --warmup 3) | tee -a "$OUT/bench.jsonl"
stage "benchmark: engine (128 px, batch $ENG_BATCH, zoom 1.25)"
(cd benchmarks && timeout 90 $PY engine.py --device $DEV --bank "${BANK_FILES[0]}" --batch $ENG_BATCH \
    --runs $RUNS --zoom 1.25) | tee -a "$OUT/bench.jsonl"
fi

# Training: a fresh LiftNet (ngf 32) and, with INIT, a fine-tune of it, side by side on the GPU.
COMMON=(train "${SYNTH[@]}" --synth-zoom 1,1.5 --loss corr --corr-per-pair 200 --mask-head --mask-weight 1.0
        --optimizer adamw --steps 1000000 --patience 0 --seed 0 --device $DEV --amp auto "${TRAIN[@]}")
RUNS_STARTED=()
stage "training until +$TOTAL s ($(left) s left)"
$PY -m pointkit_cli.main -q "${COMMON[@]}" "${FRESH[@]}" --prior none --lr 5e-4 --out "$OUT/work/fresh" \
    > "$OUT/fresh.out" 2>&1 &
PIDS=($!); RUNS_STARTED+=(fresh)
if [ -n "$INIT" ]; then
    $PY -m pointkit_cli.main -q "${COMMON[@]}" --init "$INIT" --lr 2e-4 --out "$OUT/work/finetune" \
        > "$OUT/finetune.out" 2>&1 &
    PIDS+=($!); RUNS_STARTED+=(finetune)
fi
while [ "$(left)" -gt 25 ] && kill -0 "${PIDS[@]}" 2>/dev/null; do sleep 5; done
kill -TERM "${PIDS[@]}" 2>/dev/null; wait "${PIDS[@]}" 2>/dev/null

stage "results"
nvidia-smi --query-gpu=name,memory.used --format=csv 2>/dev/null
for r in "${RUNS_STARTED[@]}"; do
    d="$OUT/work/$r"
    echo "--- $r (last lines of its output):"; tail -n 5 "$OUT/$r.out"; rm -f "$OUT/$r.out"
    [ -f "$d/val.csv" ] && tail -n 3 "$d/val.csv"
    files=(); for f in run.json train.csv val.csv best.safetensors; do [ -f "$d/$f" ] && files+=("$f"); done
    [ ${#files[@]} -gt 0 ] || continue
    tar -cf "$OUT/$r.tar" -C "$d" "${files[@]}"
    if [ "$(stat -c %s "$OUT/$r.tar")" -gt $((15 * 1024 * 1024)) ]; then
        split -b 15M -d "$OUT/$r.tar" "$OUT/$r.tar.part-" && rm "$OUT/$r.tar"
    fi
done
rm -rf "$OUT/work"
stage "done"
