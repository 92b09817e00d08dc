#!/usr/bin/env bash
# Fault test: SIGKILLs a training run at random moments and resumes it each time, until it has
# been killed --kills times (default 100), then checks that no run directory was left corrupt and
# that every interrupted run ends with the same numbers as one uninterrupted run: the epoch and
# step records (timings aside), result.json's figures, and the trained weights (exported as a
# state dict, compared byte for byte).
#   scripts/kill_test.sh [--kills N] [--octrain PATH] [--work DIR] [--seed S]
# A run directory counts as corrupt when config.toml or metadata.json does not parse, a
# metrics.jsonl line other than a torn last one does not parse, a resume exits with anything
# but success or the kill, or a completed run holds files other than its own (a killed atomic
# write's leftovers). A kill before the first checkpoint leaves nothing to resume: the run
# starts again with its original command (counted as a restart). When a run completes before the
# next kill, it is compared and a fresh run begins. Prints a summary; exit 0 when all is well.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
kills=100
octrain=${OCTRAIN:-$repo/build/octrain}
work=
seed=$RANDOM
while [ $# -gt 0 ]; do
  case "$1" in
    --kills) kills=$2; shift 2 ;;
    --octrain) octrain=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "kill_test.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -x "$octrain" ] || { echo "kill_test.sh: no octrain at $octrain (--octrain PATH)" >&2; exit 2; }
if [ -z "$work" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
rm -rf "$work/reference" "$work/killed"
mkdir -p "$work"
RANDOM=$seed

# A small fast run: wine, a 2-hidden-layer MLP, a checkpoint after every epoch, one thread (the
# same numbers every time), a validation split and --keep best so best.pt is written too.
train=(train -q -d wine -m mlp:13-16-16-3:tanh --method adam:lr=0.01 -e 40 -b 16 --seed 3
       --threads 1 --checkpoint-every 1 --validation-fraction 0.2 --keep best --progress-every 0)

# Records without their timings, one per line, for comparison.
normalise() {
  python3 - "$1" <<'PY'
import json, sys
timing = {"mean_step_ms", "epoch_time_s", "step_ms", "seconds", "elapsed_s", "time_s",
          "total_seconds", "mean_step_seconds", "steps_per_second"}
def strip(v):
    if isinstance(v, dict):
        return {k: strip(x) for k, x in sorted(v.items()) if k not in timing and "_ms" not in k
                and not k.endswith("_s") and "time" not in k}
    if isinstance(v, list):
        return [strip(x) for x in v]
    return v
for line in open(sys.argv[1] + "/metrics.jsonl"):
    print(json.dumps(strip(json.loads(line)), sort_keys=True))
result = json.load(open(sys.argv[1] + "/result.json"))
print(json.dumps(strip(result), sort_keys=True))
PY
}

# Parses what a (possibly just killed) run directory holds; prints the problem and fails if any.
check_directory() {
  python3 - "$1" <<'PY'
import json, os, sys, tomllib
d = sys.argv[1]
problems = []
def check(name, parse):
    path = os.path.join(d, name)
    if os.path.exists(path):
        try:
            parse(path)
        except Exception as e:
            problems.append(f"{name}: {e}")
check("config.toml", lambda p: tomllib.load(open(p, "rb")))
check("metadata.json", lambda p: json.load(open(p)))
check("result.json", lambda p: json.load(open(p)))
path = os.path.join(d, "metrics.jsonl")
if os.path.exists(path):
    data = open(path, "rb").read().decode()
    lines = data.split("\n")
    for i, line in enumerate(lines):
        if not line or (i == len(lines) - 1):  # a last line without its newline: torn, allowed
            continue
        try:
            json.loads(line)
        except Exception as e:
            problems.append(f"metrics.jsonl:{i + 1}: {e}")
if problems:
    print("\n".join(problems))
    sys.exit(1)
PY
}

start=$(date +%s.%N)
"$octrain" "${train[@]}" -o "$work/reference" >/dev/null
duration=$(python3 -c "import time; print(time.time() - $start)")
"$octrain" export "$work/reference" --format state-dict -o "$work/reference.weights.pt" >/dev/null
normalise "$work/reference" >"$work/reference.txt"
# Kill moments: uniform over one uninterrupted run's wall time (start-up included).
max_ms=$(python3 -c "print(max(50, int($duration * 1000)))")

expected_files='best.pt|checkpoint.pt|config.toml|epochs.csv|metadata.json|metrics.jsonl|result.json|steps.csv|\.lock'
killed=0 resumes=0 restarts=0 completed=0 corrupt=0 mismatches=0 attempts=0
dir=$work/killed
while :; do
  if [ -f "$dir/checkpoint.pt" ]; then
    cmd=("$octrain" train -q --resume "$dir" --progress-every 0)
    kind=resume
  else
    rm -rf "$dir"
    cmd=("$octrain" "${train[@]}" -o "$dir")
    kind=start
  fi
  attempts=$((attempts + 1))
  [ "$kind" = resume ] && resumes=$((resumes + 1))
  if [ "$killed" -ge "$kills" ]; then  # enough kills: finish the run undisturbed
    status=0
    "${cmd[@]}" >"$work/last.log" 2>&1 || status=$?
  else
    delay_ms=$(( (RANDOM * 32768 + RANDOM) % max_ms ))
    "${cmd[@]}" >"$work/last.log" 2>&1 &
    pid=$!
    sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
    kill -KILL "$pid" 2>/dev/null || true
    status=0
    { wait "$pid"; } 2>/dev/null || status=$?  # (quiet: no "Killed" line from the shell)
    [ "$status" -eq 137 ] && killed=$((killed + 1))
  fi
  if [ "$status" -ne 0 ] && [ "$status" -ne 137 ]; then
    echo "kill_test: $kind exited $status after $killed kills:" >&2
    cat "$work/last.log" >&2
    corrupt=$((corrupt + 1))
    break
  fi
  if ! problem=$(check_directory "$dir"); then
    echo "kill_test: corrupt run directory after $killed kills: $problem" >&2
    corrupt=$((corrupt + 1))
    break
  fi
  [ "$status" -eq 137 ] && [ "$kind" = start ] && [ ! -f "$dir/checkpoint.pt" ] &&
    restarts=$((restarts + 1))
  if [ "$status" -eq 0 ]; then  # the run completed: compare it with the reference
    completed=$((completed + 1))
    # Nothing left behind by the killed writes (temporary files of atomic writes, folders).
    litter=$(cd "$dir" && ls -A | grep -v -x -E "$expected_files" || true)
    if [ -n "$litter" ]; then
      echo "kill_test: run $completed left files behind: $litter" >&2
      corrupt=$((corrupt + 1))
    fi
    "$octrain" export "$dir" --format state-dict -o "$work/killed.weights.pt" >/dev/null
    normalise "$dir" >"$work/killed.txt"
    if ! cmp -s "$work/reference.weights.pt" "$work/killed.weights.pt" ||
       ! diff -q "$work/reference.txt" "$work/killed.txt" >/dev/null; then
      mismatches=$((mismatches + 1))
      echo "kill_test: run $completed differs from the uninterrupted run:" >&2
      diff "$work/reference.txt" "$work/killed.txt" | head -10 >&2 || true
      cmp "$work/reference.weights.pt" "$work/killed.weights.pt" >&2 || true
    fi
    [ "$killed" -ge "$kills" ] && break
    rm -rf "$dir"
  fi
done

echo "kill_test: $killed kills (seed $seed, moments uniform over ${max_ms} ms), $attempts starts" \
  "($resumes resumes, $restarts restarts before a first checkpoint), $completed runs completed;" \
  "$corrupt corrupt run directories, $mismatches runs differing from the uninterrupted one"
[ "$corrupt" -eq 0 ] && [ "$mismatches" -eq 0 ]
