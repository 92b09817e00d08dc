#!/bin/bash
# Probe: damaged metrics.jsonl lines against plot, report and resume. Prints exit codes.
BIN=${1:-build/octrain}; T=$(mktemp -d)
$BIN train -q -d toy-sin -m mlp:1-8-1:tanh -e 2 -b 25 --threads 1 --diagnostics 2 -o $T/base >/dev/null 2>&1 || { echo base failed; exit 1; }
i=0
while IFS= read -r bad; do
  i=$((i+1))
  for cmd in plot report resume; do
    d=$T/r$i-$cmd; cp -r $T/base $d
    # damaged line in the middle of the file
    head -n 3 $T/base/metrics.jsonl > $d/metrics.jsonl; printf '%s\n' "$bad" >> $d/metrics.jsonl; tail -n +4 $T/base/metrics.jsonl >> $d/metrics.jsonl
    case $cmd in
      plot) out=$($BIN plot $d --diagnostics 2>&1);;
      report) out=$($BIN report $d -o $d/rep 2>&1);;
      resume) out=$($BIN train -q --resume $d -e 3 2>&1);;
    esac
    rc=$?; echo "$cmd rc=$rc line=$(printf %q "${bad:0:30}") :: $(echo "$out" | tail -1 | cut -c1-110)"
  done
done <<'LINES'
[1,2]
5
null
{"kind":5,"step":1}
{"kind":"step","step":"abc"}
{"kind":"diagnostics","step":1}
{"kind":"step","step":-4}
not json at all
LINES
python3 -c 'print("["*100000 + "]"*100000)' > $T/deep.txt
for cmd in plot report resume; do
  d=$T/deep-$cmd; cp -r $T/base $d; cat $T/deep.txt >> $d/metrics.jsonl; cat $T/base/metrics.jsonl >> $d/metrics.jsonl
  case $cmd in plot) out=$($BIN plot $d --diagnostics 2>&1);; report) out=$($BIN report $d -o $d/rep 2>&1);; resume) out=$($BIN train -q --resume $d -e 3 2>&1);; esac
  echo "$cmd rc=$? line=deep100000 :: $(echo "$out" | tail -1 | cut -c1-110)"
done
rm -rf $T
