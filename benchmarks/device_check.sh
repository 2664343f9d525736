#!/usr/bin/env bash
# The GPU checks of the claims and work-precision studies, as one prepared command for a lent GPU
# machine (torch, torchdiffeq, tqdm and matplotlib are there; ../shared is not, so MNIST travels):
#
#   here:  mkdir -p .device-data && cp ../shared/datasets/mnist/*.gz .device-data/
#          (.device-data is ignored by git; name it in the device call's carry)
#   there: bash benchmarks/device_check.sh .device-data "$OUT"          (at most 9 minutes)
#
# 1. benchmarks/step_time.py on the GPU: ms per training step of AdamNODE, HBNODE and NODE, the
#    default, direct, rk4, rk4 in one CUDA graph and torch.compile paths, batch 32 and 256.
# 2. adamnode precision on MNIST AdamNODE (100 pretraining steps): the work-precision diagram on the GPU.
# 3. --preset paper on the full 60,000 MNIST images: AdamNODE, HBNODE, ANODE and NODE, seeds 0 and 1,
#    up to 3 epochs, all eight runs side by side on the one GPU, each stopped with SIGTERM (a
#    checkpoint, metrics of its finished epochs, steps.csv every 50 steps) when the budget is spent.
#    Beside them, the MNIST half of AdamNODE's rate study (docs/results/rates/study.sh: 12 settings x
#    3 seeds at the claims study's budget, 12,800 images and the full test set), as far as it gets.
# Everything lands in one archive, $OUT/device_check.tgz (checkpoints left out), plus the log.
#
# DEVICE, STEP_TIME_ARGS, PRECISION_ARGS, TRAIN_ARGS, RATE_ARGS and TRAIN_BUDGET_S (seconds, default 280)
# override the settings, so that the same script runs as a CPU smoke test in a few minutes:
#
#   DEVICE=cpu TRAIN_BUDGET_S=120 STEP_TIME_ARGS="--models node --batch-sizes 4 --steps 1 --warmup 0 --variants default" \
#   PRECISION_ARGS="--models node --tols 1e-2 --paths default --batches 1 --batch-size 4 --pretrain-steps 1" \
#   TRAIN_ARGS="--epochs 1 --max-steps 2 --train-subset 64 --test-subset 64" \
#   RATE_ARGS="--epochs 1 --max-steps 2 --train-subset 64 --test-subset 64" \
#   bash benchmarks/device_check.sh ../shared/datasets/mnist /tmp/device-smoke
set -uo pipefail
data=${1:?usage: device_check.sh DATA_DIR OUT}
out=${2:?usage: device_check.sh DATA_DIR OUT}
device=${DEVICE:-cuda}
budget=${TRAIN_BUDGET_S:-280}
work="$out/work"
mkdir -p "$work/paper"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
log="$out/device_check.log"
say() { echo "$(date -u +%H:%M:%S) $*" | tee -a "$log"; }

{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1
  python3 -c "import torch, torchdiffeq; print('torch', torch.__version__, 'torchdiffeq', torchdiffeq.__version__,
              torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no CUDA')"; } > "$work/machine.txt" 2>&1
say "machine: $(tail -n 1 "$work/machine.txt")"

say "1. step times"
# shellcheck disable=SC2086
timeout 140 python3 benchmarks/step_time.py --device "$device" --data-dir "$data" --out "$work" \
    ${STEP_TIME_ARGS:---models adamnode,hbnode,node --batch-sizes 32,256 --compile --steps 10} \
    > "$work/step_time.log" 2>&1
say "   exit $?"

say "2. work-precision study, MNIST AdamNODE"
# shellcheck disable=SC2086
timeout 100 python3 -m adamnode precision --task mnist --device "$device" --data-dir "$data" --out "$work/precision" \
    ${PRECISION_ARGS:---models adamnode --tols 1e-2,1e-3,1e-4,1e-5 --paths default,direct,fixed,reference --fixed-steps 2,4,8 --batches 2 --batch-size 64 --pretrain-steps 100} \
    > "$work/precision.log" 2>&1
say "   exit $?"

say "3. paper preset, full MNIST, 8 runs, and the MNIST rate study, side by side for ${budget} s"
for model in adamnode hbnode anode node; do
    for seed in 0 1; do
        # shellcheck disable=SC2086
        timeout -k 20 "$budget" python3 -m adamnode train --task mnist --preset paper --model "$model" \
            --seed "$seed" --data-dir "$data" --device "$device" --log-every 50 --checkpoint-minutes 1 --threads 1 \
            ${TRAIN_ARGS:---epochs 3} --out "$work/paper/$model-seed$seed" \
            > "$work/paper/$model-seed$seed.log" 2>&1 &
    done
done
TASK=mnist JOBS=8 OUT="$work/rates" \
    EXTRA="--threads 1 --device $device --data-dir $data ${RATE_ARGS:---train-subset 12800 --test-subset 10000 --epochs 1 --seed 7 --log-every 10}" \
    timeout -k 20 "$budget" bash docs/results/rates/study.sh > "$work/rates.log" 2>&1 &
wait
say "   done"

tar -czf "$out/device_check.tgz" -C "$work" --exclude=checkpoint.pt --exclude=.adamnode.lock .
say "archive: $out/device_check.tgz ($(du -h "$out/device_check.tgz" | cut -f1))"
