# Re-render with: gnuplot ddpnopt-vanishing-gradients-test_accuracy.gp
set terminal svg size 1100,440 dynamic enhanced font 'Helvetica,12' background rgb 'white'
if (!exists("output")) output = 'ddpnopt-vanishing-gradients-test_accuracy.svg'
set output output
set multiplot layout 1,2 title 'ddpnopt-vanishing-gradients: test accuracy (%)' noenhanced
set grid
set key top right noenhanced
unset logscale y
set style fill transparent solid 0.2 noborder
set xlabel 'iteration'
plot 'ddpnopt-vanishing-gradients-test_accuracy-m0.dat' using 1:4:5 with filledcurves lc 1 notitle, 'ddpnopt-vanishing-gradients-test_accuracy-m0.dat' using 1:3 with lines lw 2 lc 1 title 'sgd:lr=0.1', 'ddpnopt-vanishing-gradients-test_accuracy-m1.dat' using 1:4:5 with filledcurves lc 2 notitle, 'ddpnopt-vanishing-gradients-test_accuracy-m1.dat' using 1:3 with lines lw 2 lc 2 title 'ekfac:lr=0.01'
set xlabel 'training time (s)'
plot 'ddpnopt-vanishing-gradients-test_accuracy-m0.dat' using 2:4:5 with filledcurves lc 1 notitle, 'ddpnopt-vanishing-gradients-test_accuracy-m0.dat' using 2:3 with lines lw 2 lc 1 title 'sgd:lr=0.1', 'ddpnopt-vanishing-gradients-test_accuracy-m1.dat' using 2:4:5 with filledcurves lc 2 notitle, 'ddpnopt-vanishing-gradients-test_accuracy-m1.dat' using 2:3 with lines lw 2 lc 2 title 'ekfac:lr=0.01'
unset multiplot
