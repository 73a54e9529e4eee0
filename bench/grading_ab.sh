#!/bin/bash
# Old against new in the same run: bench/grading.py for an older commit and for this checkout,
# interleaved old, new, new, old per cycle (a shared machine drifts; pairs in one cycle see the same load).
#
#   bash bench/grading_ab.sh [OLD_COMMIT (default ca47260)] [CYCLES (default 2)] [-- bench/grading.py args]
#
# The old commit is checked out once as a detached worktree under ${TMPDIR:-/tmp} and uses this
# checkout's .venv. Both run at the same priority: GRADER_NICE is set to 0 for the new tree (the old
# one has no such setting), or prefix the call with `nice -n 10` to run both at 10. Full outputs go to
# var/bench-ab/; one summary line per run is printed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OLD=${1:-ca47260}
CYCLES=${2:-2}
shift $(($# > 2 ? 2 : $#))
[ "${1:-}" = "--" ] && shift
ARGS=("$@")
[ ${#ARGS[@]} -eq 0 ] && ARGS=(--rounds 20 --cold 0 --throughput 60)
PY="$ROOT/.venv/bin/python"
OLDTREE="${TMPDIR:-/tmp}/grading-ab-$(git -C "$ROOT" rev-parse --short "$OLD")"
[ -d "$OLDTREE" ] || git -C "$ROOT" worktree add --detach "$OLDTREE" "$OLD" >/dev/null
OUT="$ROOT/var/bench-ab"
mkdir -p "$OUT"
n=0
run() {  # run TREE LABEL
    n=$((n + 1))
    local f="$OUT/$n-$2.txt"
    (cd "$1" && GRADER_NICE=0 "$PY" bench/grading.py "${ARGS[@]}" >"$f" 2>&1)
    awk -v t="$2" '/^all/{printf "%-4s warm p50 %6s  p95 %6s  floor p50 %6s", t, $3, $4, $2}
                   /worker\(s\)/{printf "  | %s worker(s) %s grades/s", $1, $3} END{print ""}' "$f"
}
for c in $(seq "$CYCLES"); do
    echo "# cycle $c $(date -u +%H:%M:%S) UTC, load $(cut -d' ' -f1 /proc/loadavg); old = $OLD"
    run "$OLDTREE" old
    run "$ROOT" new
    run "$ROOT" new
    run "$OLDTREE" old
done
