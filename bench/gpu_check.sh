#!/usr/bin/env bash
# The GPU path end to end, as ONE script for a lent GPU machine (its own python3 holds CUDA torch):
#   bash bench/gpu_check.sh            (writes logs under $OUT, or /tmp/gpu-check)
# 1. the references of the module exercises score full marks on cuda (python -m grader check);
# 2. the CLI grades the reference and buggy identity blocks on cuda (JSON per file, timed);
# 3. hostile GPU submissions (memory over the cap, a GPU busy loop, NaN, __torch_function__),
#    3b. the GPU sandbox's walls (cgroup required, one /dev/nvidiaN, cgroup limits, summed NVML, per-step
#    CPU), 3c. the GPU path's system calls against the seccomp allow-list (strace);
# 4. bench/grading.py on cuda (floor, warm p50/p95, grades/s; warm executors vs 3 ahead) and
# 5. the degradation experiment.
set -u
PY=${PY:-python3}
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 GRADER_DEVICE=${GRADER_DEVICE:-cuda} CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-0}
cd "$(dirname "$0")/.."
step() { echo; echo "== $* ($(date +%T))"; }

step host
nvidia-smi -L 2>&1 | head -2; uname -r
$PY -c "import sys, torch; print(sys.version.split()[0], torch.__version__, 'cuda', torch.cuda.is_available())"
echo "own cgroup: $(cat /proc/self/cgroup | tr '\n' ' ') root controllers: $(cat /sys/fs/cgroup/cgroup.controllers 2>/dev/null) subtree: $(cat /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null)"
echo "max_user_namespaces=$(cat /proc/sys/user/max_user_namespaces 2>/dev/null) cgroup2=$(stat -fc %T /sys/fs/cgroup)"

step "0. fork diagnostics"
timeout 60 $PY bench/gpu_fork_diag.py

step "1. references on $GRADER_DEVICE"
timeout 150 $PY -m grader check exercises/identity-block exercises/conv-block

step "2. CLI: reference + buggy identity blocks"
S=tests/grader/submissions/identity-block
TIMEFORMAT="wall %R s for 7 files in one fresh process (torch import + sandbox start included)"
time timeout 150 $PY -m grader grade exercises/identity-block exercises/identity-block/solution.py \
    $S/no_shortcut.py $S/add_after_final_relu.py $S/detached_shortcut.py $S/padding_fixed_1.py \
    $S/bn_always_train.py $S/relu_before_add.py --json > "$OUT/identity_cli.jsonl"
$PY - "$OUT/identity_cli.jsonl" <<'PYEOF'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    ids = [m for c in r.get("tests", []) if c.get("status") != "passed" for m in c.get("misconceptions", [])]
    ex = r.get("execution", {})
    print(f"  {r['score']:>4g}/{r['max_score']:g} {r['outcome']:<7} device={ex.get('device')} "
          f"wall={ex.get('wall_s')} first_mistake={ids[0] if ids else None}")
PYEOF

step "3. hostile submissions on $GRADER_DEVICE"
timeout 150 $PY bench/gpu_attacks.py

step "3b. the GPU sandbox's walls: no GPU worker without a cgroup, only the pinned GPU's node, cgroup memory/pids, summed NVML, per-step CPU"
timeout 240 $PY bench/gpu_sandbox_check.py

step "3c. system calls the GPU path makes under the seccomp allow-list (NOT ALLOWED lines must be added to GPU in grader/sandbox/seccomp.py)"
if command -v strace >/dev/null; then
    timeout 300 $PY -m grader.sandbox.trace --device "$GRADER_DEVICE" --log "$OUT/gpu_syscalls.strace" 2>"$OUT/trace_stderr.log" | tail -60
else
    echo "strace is not installed: skipped (apt-get install strace)"
fi

step "4. bench/grading.py --device $GRADER_DEVICE: warm executors (prefork = cores - 2) against 3 ahead"
timeout 200 $PY bench/grading.py --device "$GRADER_DEVICE" --rounds 10 --cold 0 --throughput 40
GRADER_PREFORK=3 timeout 150 $PY bench/grading.py --device "$GRADER_DEVICE" --rounds 10 --cold 0 --throughput 40 | tail -4

step "5. degradation on $GRADER_DEVICE"
timeout 120 $PY bench/degradation.py --device "$GRADER_DEVICE" --seeds 1 --no-cli
step done
