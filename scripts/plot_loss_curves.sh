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
  # A handful of steps is drawn with points too: a line through one point shows nothing.
  style="lines lw 1.5"
  (( $(wc -l < "$dir/steps.csv") <= 20 )) && style="linespoints lw 1.5 pt 7 ps 0.6"
  plots+=("'$dir/steps.csv' using 0:(column('loss')) with $style lc $colour title '${label//\'/} (train)'")
  if [[ $test_curves == 1 && -f "$dir/epochs.csv" ]]; then
    plots+=("'$dir/epochs.csv' using (column('step')):(column('test_loss')) with points pt 7 ps 0.6 lc $colour title '${label//\'/} (test)'")
  fi
done
# noenhanced: labels are plain text, so an underscore in a run name stays an underscore.
terminal='svg size 900,540 dynamic noenhanced font "sans,12" background rgb "white"'
[[ "$out" == *.png ]] && terminal='pngcairo size 900,540 noenhanced font "sans,11"'
range=""; [[ -n "$max_steps" ]] && range="set xrange [0:$max_steps]"
gnuplot <<GNUPLOT
set terminal $terminal
set output "$out"
set datafile separator ","
set key autotitle columnhead
set key outside right top
# Okabe-Ito colours (colour-blind safe; its yellow left out on white)
set linetype 1 lc rgb '#0072B2'
set linetype 2 lc rgb '#D55E00'
set linetype 3 lc rgb '#009E73'
set linetype 4 lc rgb '#CC79A7'
set linetype 5 lc rgb '#E69F00'
set linetype 6 lc rgb '#56B4E9'
set linetype 7 lc rgb '#000000'
set linetype cycle 7
set logscale y
set format y '%g'
set grid
set title "$title"
set xlabel "iteration"
set ylabel "loss"
$range
plot $(IFS=,; echo "${plots[*]}")
GNUPLOT
echo "$out"
