# Re-render with: gnuplot ddpnopt-fc-mnist-test_accuracy.gp
set terminal svg size 1100,440 dynamic enhanced font 'Helvetica,12' background rgb 'white'
if (!exists("output")) output = 'ddpnopt-fc-mnist-test_accuracy.svg'
set output output
set multiplot layout 1,2 title 'ddpnopt-fc-mnist: test accuracy (%)' noenhanced
set grid
set key top right noenhanced
unset logscale y
set style fill transparent solid 0.2 noborder
set xlabel 'iteration'
plot 'ddpnopt-fc-mnist-test_accuracy-m0.dat' using 1:4:5 with filledcurves lc 1 notitle, 'ddpnopt-fc-mnist-test_accuracy-m0.dat' using 1:3 with lines lw 2 lc 1 title 'sgd:lr=0.01,momentum=0.9', 'ddpnopt-fc-mnist-test_accuracy-m1.dat' using 1:4:5 with filledcurves lc 2 notitle, 'ddpnopt-fc-mnist-test_accuracy-m1.dat' using 1:3 with lines lw 2 lc 2 title 'rmsprop:alpha=0.999,lr=0.001', 'ddpnopt-fc-mnist-test_accuracy-m2.dat' using 1:4:5 with filledcurves lc 3 notitle, 'ddpnopt-fc-mnist-test_accuracy-m2.dat' using 1:3 with lines lw 2 lc 3 title 'adam:lr=0.001', 'ddpnopt-fc-mnist-test_accuracy-m3.dat' using 1:4:5 with filledcurves lc 4 notitle, 'ddpnopt-fc-mnist-test_accuracy-m3.dat' using 1:3 with lines lw 2 lc 4 title 'ekfac:lr=0.01', 'ddpnopt-fc-mnist-test_accuracy-m4.dat' using 1:4:5 with filledcurves lc 5 notitle, 'ddpnopt-fc-mnist-test_accuracy-m4.dat' using 1:3 with lines lw 2 lc 5 title 'ddpnopt:alpha=0.999,curvature=diag,lr=0.001', 'ddpnopt-fc-mnist-test_accuracy-m5.dat' using 1:4:5 with filledcurves lc 6 notitle, 'ddpnopt-fc-mnist-test_accuracy-m5.dat' using 1:3 with lines lw 2 lc 6 title 'ddpnopt:second_moment=direction'
set xlabel 'training time (s)'
plot 'ddpnopt-fc-mnist-test_accuracy-m0.dat' using 2:4:5 with filledcurves lc 1 notitle, 'ddpnopt-fc-mnist-test_accuracy-m0.dat' using 2:3 with lines lw 2 lc 1 title 'sgd:lr=0.01,momentum=0.9', 'ddpnopt-fc-mnist-test_accuracy-m1.dat' using 2:4:5 with filledcurves lc 2 notitle, 'ddpnopt-fc-mnist-test_accuracy-m1.dat' using 2:3 with lines lw 2 lc 2 title 'rmsprop:alpha=0.999,lr=0.001', 'ddpnopt-fc-mnist-test_accuracy-m2.dat' using 2:4:5 with filledcurves lc 3 notitle, 'ddpnopt-fc-mnist-test_accuracy-m2.dat' using 2:3 with lines lw 2 lc 3 title 'adam:lr=0.001', 'ddpnopt-fc-mnist-test_accuracy-m3.dat' using 2:4:5 with filledcurves lc 4 notitle, 'ddpnopt-fc-mnist-test_accuracy-m3.dat' using 2:3 with lines lw 2 lc 4 title 'ekfac:lr=0.01', 'ddpnopt-fc-mnist-test_accuracy-m4.dat' using 2:4:5 with filledcurves lc 5 notitle, 'ddpnopt-fc-mnist-test_accuracy-m4.dat' using 2:3 with lines lw 2 lc 5 title 'ddpnopt:alpha=0.999,curvature=diag,lr=0.001', 'ddpnopt-fc-mnist-test_accuracy-m5.dat' using 2:4:5 with filledcurves lc 6 notitle, 'ddpnopt-fc-mnist-test_accuracy-m5.dat' using 2:3 with lines lw 2 lc 6 title 'ddpnopt:second_moment=direction'
unset multiplot
