#!/usr/bin/env bash
# The measurement of docs/results/ray/README.md: the same comparison one run after the other
# (--jobs 1) and as Ray tasks on a Ray instance adamnode starts on this machine (--backend ray),
# then Ray's cost per run on tiny runs. Run from the repository root; EPOCHS=3 for the shorter form.
# Writes OUT (default runs/ray-measure/): the comparisons, their logs and timings.txt.
set -euo pipefail
epochs=${EPOCHS:-15}
out=${OUT:-runs/ray-measure}
mkdir -p "$out"
log="$out/timings.txt"
: > "$log"

note() { echo "$*" | tee -a "$log"; }
others() {  # what else ran on the machine: load and the busiest processes not ours
    note "load: $(cut -d' ' -f1-3 /proc/loadavg)"
    ps -eo pcpu,etime,args --sort=-pcpu | grep -v -e "ray-measure" -e "ps -eo" -e "raylet" -e "gcs_server" \
        -e "ray::" -e "ray/_private" -e "ray/dashboard" -e "ray/autoscaler" | head -6 | cut -c1-160 \
        | tee -a "$log" || true
}
timed() {  # timed NAME COMMAND...: wall seconds of the command
    local name=$1; shift
    others
    local start=$(date +%s.%N)
    "$@" > "$out/$name.log" 2>&1
    local end=$(date +%s.%N)
    note "$name: $(echo "$end - $start" | bc) s wall: $*"
}

# The 8-model spheres comparison with 3 seeds, both ways.
timed jobs1 adamnode compare --seeds 3 --threads 1 --epochs "$epochs" --out "$out/jobs1"
timed ray adamnode compare --seeds 3 --threads 1 --epochs "$epochs" --backend ray --out "$out/ray"

# Ray's cost per run, both serial: tiny one-epoch runs (8 with one seed, 24 with three) in this
# process, then as tasks on a Ray instance with 1 CPU, started beforehand (adamnode's own instance,
# started and stopped by the comparison, is the ray row above). Per run: the growth of Ray's extra
# time from 8 to 24 runs, over 16; what is left at 8 runs is its fixed cost per comparison.
export RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0  # the instance and the driver on 127.0.0.1 only
ray start --head --node-ip-address=127.0.0.1 --port=6390 --num-cpus=1 --include-dashboard=false \
    --disable-usage-stats > "$out/ray-start.log" 2>&1
trap 'ray stop > /dev/null 2>&1' EXIT
export RAY_AUTH_MODE=token
for seeds in 1 3; do
    tiny=(--preset tiny --epochs 1 --seeds "$seeds" --threads 1)
    timed "tiny$seeds-jobs1" adamnode compare "${tiny[@]}" --out "$out/tiny$seeds-jobs1"
    timed "tiny$seeds-ray" adamnode compare "${tiny[@]}" --backend ray --ray-address 127.0.0.1:6390 \
        --out "$out/tiny$seeds-ray"
done
