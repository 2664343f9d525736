#!/usr/bin/env bash
# AdamNODE's rates: each (beta1, beta2) pair with the rates learned and fixed, 3 seeds each, one
# comparison folder per setting under $OUT (default runs/rates).
# Then python -m adamnode.studies.rates tabulates them and measures m's drift on the trained models.
#
# TASK (default spheres) and EXTRA (more compare options, default "--threads 1") choose the study;
# JOBS (default 1) comparisons run at a time. The MNIST half, as the claims study's budget:
#   TASK=mnist EXTRA="--threads 1 --data-dir ../shared/datasets --train-subset 12800 --test-subset 10000 \
#       --epochs 1 --seed 7 --log-every 10" OUT=runs/rates-mnist docs/results/rates/study.sh
set -euo pipefail
OUT=${OUT:-runs/rates}
TASK=${TASK:-spheres}
EXTRA=${EXTRA:---threads 1}
JOBS=${JOBS:-1}
LOW=0.0066928509242848554    # sigmoid(-5): the paper's MNIST beta1 (and 1 - its beta2)
HIGH=0.9525741268224334      # sigmoid(3): the paper's CIFAR-10 beta1 = beta2
MNIST_B2=0.9933071490757153  # sigmoid(5): the paper's MNIST beta2
# The paper's two pairs, the two mixed ones, and beta1 = 0.1, 0.5 at the paper's MNIST beta2.
PAIRS="$LOW,$MNIST_B2 $HIGH,$HIGH $LOW,$HIGH $HIGH,$MNIST_B2 0.1,$MNIST_B2 0.5,$MNIST_B2"
for learn in true false; do
  for pair in $PAIRS; do
    b1=${pair%,*}; b2=${pair#*,}
    dir="$OUT/b1=${b1:0:6}-b2=${b2:0:6}-learn=$learn"
    if [ -f "$dir/results.csv" ]; then continue; fi
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do sleep 1; done
    # shellcheck disable=SC2086
    python3 -m adamnode compare --task "$TASK" --models adamnode --seeds 3 $EXTRA \
      --model-option beta1="$b1" --model-option beta2="$b2" --model-option learn_betas="$learn" \
      --out "$dir" --overwrite > /dev/null &
  done
done
wait
