# Re-render with: gnuplot digits-baselines-test_loss.gp
set terminal svg size 1100,440 dynamic enhanced font 'Helvetica,12' background rgb 'white'
if (!exists("output")) output = 'digits-baselines-test_loss.svg'
set output output
set multiplot layout 1,2 title 'digits-baselines: test loss' noenhanced
set grid
set key top right noenhanced
set logscale y
set style fill transparent solid 0.2 noborder
set xlabel 'iteration'
plot 'digits-baselines-test_loss-m0.dat' using 1:4:5 with filledcurves lc 1 notitle, 'digits-baselines-test_loss-m0.dat' using 1:3 with lines lw 2 lc 1 title 'sgd:lr=0.1,momentum=0.9', 'digits-baselines-test_loss-m1.dat' using 1:4:5 with filledcurves lc 2 notitle, 'digits-baselines-test_loss-m1.dat' using 1:3 with lines lw 2 lc 2 title 'rmsprop:lr=0.001', 'digits-baselines-test_loss-m2.dat' using 1:4:5 with filledcurves lc 3 notitle, 'digits-baselines-test_loss-m2.dat' using 1:3 with lines lw 2 lc 3 title 'adam:lr=0.001'
set xlabel 'training time (s)'
plot 'digits-baselines-test_loss-m0.dat' using 2:4:5 with filledcurves lc 1 notitle, 'digits-baselines-test_loss-m0.dat' using 2:3 with lines lw 2 lc 1 title 'sgd:lr=0.1,momentum=0.9', 'digits-baselines-test_loss-m1.dat' using 2:4:5 with filledcurves lc 2 notitle, 'digits-baselines-test_loss-m1.dat' using 2:3 with lines lw 2 lc 2 title 'rmsprop:lr=0.001', 'digits-baselines-test_loss-m2.dat' using 2:4:5 with filledcurves lc 3 notitle, 'digits-baselines-test_loss-m2.dat' using 2:3 with lines lw 2 lc 3 title 'adam:lr=0.001'
unset multiplot
