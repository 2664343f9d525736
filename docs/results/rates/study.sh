#!/usr/bin/env bash
# AdamNODE's rates on nested spheres: each (beta1, beta2) pair with the rates learned and fixed,
# 3 seeds each, one comparison folder per setting under runs/rates (override with $OUT).
# Then docs/results/rates/collect.py tabulates them and measures m's drift on the trained models.
set -euo pipefail
OUT=${OUT:-runs/rates}
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
    python -m adamnode compare --task spheres --models adamnode --seeds 3 --threads 1 \
      --model-option beta1="$b1" --model-option beta2="$b2" --model-option learn_betas="$learn" \
      --out "$dir" --overwrite > /dev/null
  done
done
