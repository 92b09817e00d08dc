# Re-render with: gnuplot emsa-toy-rho-sweep-train_loss.gp
set terminal svg size 1100,440 dynamic enhanced font 'Helvetica,12' background rgb 'white'
if (!exists("output")) output = 'emsa-toy-rho-sweep-train_loss.svg'
set output output
set multiplot layout 1,2 title 'emsa-toy-rho-sweep: training loss (per batch)' noenhanced
set grid
set key top right noenhanced
set logscale y
set style fill transparent solid 0.2 noborder
set xlabel 'iteration'
plot 'emsa-toy-rho-sweep-train_loss-m0.dat' using 1:4:5 with filledcurves lc 1 notitle, 'emsa-toy-rho-sweep-train_loss-m0.dat' using 1:3 with lines lw 2 lc 1 title 'msa', 'emsa-toy-rho-sweep-train_loss-m1.dat' using 1:4:5 with filledcurves lc 2 notitle, 'emsa-toy-rho-sweep-train_loss-m1.dat' using 1:3 with lines lw 2 lc 2 title 'emsa-rho-0.1', 'emsa-toy-rho-sweep-train_loss-m2.dat' using 1:4:5 with filledcurves lc 3 notitle, 'emsa-toy-rho-sweep-train_loss-m2.dat' using 1:3 with lines lw 2 lc 3 title 'emsa-rho-1', 'emsa-toy-rho-sweep-train_loss-m3.dat' using 1:4:5 with filledcurves lc 4 notitle, 'emsa-toy-rho-sweep-train_loss-m3.dat' using 1:3 with lines lw 2 lc 4 title 'emsa-rho-10'
set xlabel 'training time (s)'
plot 'emsa-toy-rho-sweep-train_loss-m0.dat' using 2:4:5 with filledcurves lc 1 notitle, 'emsa-toy-rho-sweep-train_loss-m0.dat' using 2:3 with lines lw 2 lc 1 title 'msa', 'emsa-toy-rho-sweep-train_loss-m1.dat' using 2:4:5 with filledcurves lc 2 notitle, 'emsa-toy-rho-sweep-train_loss-m1.dat' using 2:3 with lines lw 2 lc 2 title 'emsa-rho-0.1', 'emsa-toy-rho-sweep-train_loss-m2.dat' using 2:4:5 with filledcurves lc 3 notitle, 'emsa-toy-rho-sweep-train_loss-m2.dat' using 2:3 with lines lw 2 lc 3 title 'emsa-rho-1', 'emsa-toy-rho-sweep-train_loss-m3.dat' using 2:4:5 with filledcurves lc 4 notitle, 'emsa-toy-rho-sweep-train_loss-m3.dat' using 2:3 with lines lw 2 lc 4 title 'emsa-rho-10'
unset multiplot
