#!/usr/bin/env bash
# Draws the training loss per iteration of one or more runs (their steps.csv) on a log scale
# with gnuplot, as SVG; with --test also each run's test loss per epoch (epochs.csv).
#
#   scripts/plot_loss_curves.sh [--test] [--title T] [--max-steps N] OUT.svg|OUT.png RUNDIR[=LABEL]...
set -euo pipefail

usage() { sed -n 2,6p "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
test_curves=0 title="training loss" max_steps=""
while [[ $# -gt 0 && "$1" == --* ]]; do
  case "$1" in
    --test) test_curves=1; shift ;;
    --title) title="$2"; shift 2 ;;
    --max-steps) max_steps="$2"; shift 2 ;;
    *) usage ;;
  esac
done
[[ $# -ge 2 ]] || usage
out="$1"; shift
command -v gnuplot >/dev/null || { echo "plot_loss_curves.sh: gnuplot is not installed (apt-get install gnuplot-nox)" >&2; exit 1; }

plots=() colour=0
for spec in "$@"; do
  colour=$((colour + 1))
  dir="${spec%%=*}"; label="${spec#*=}"; [[ "$label" == "$spec" ]] && label="$(basename "$(dirname "$dir")")"
  [[ -f "$dir/steps.csv" ]] || { echo "plot_loss_curves.sh: $dir/steps.csv not found" >&2; exit 1; }
  plots+=("'$dir/steps.csv' using 0:(column('loss')) with lines lw 1.5 lc $colour title '${label//\'/} (train)'")
  if [[ $test_curves == 1 && -f "$dir/epochs.csv" ]]; then
    plots+=("'$dir/epochs.csv' using (column('step')):(column('test_loss')) with points pt 7 ps 0.6 lc $colour title '${label//\'/} (test)'")
  fi
done
terminal='svg size 900,540 dynamic enhanced font "sans,12"'
[[ "$out" == *.png ]] && terminal='pngcairo size 900,540 enhanced font "sans,11"'
range=""; [[ -n "$max_steps" ]] && range="set xrange [0:$max_steps]"
gnuplot <<GNUPLOT
set terminal $terminal
set output "$out"
set datafile separator ","
set key autotitle columnhead
set logscale y
set grid
set title "$title"
set xlabel "iteration"
set ylabel "loss"
$range
plot $(IFS=,; echo "${plots[*]}")
GNUPLOT
echo "$out"
