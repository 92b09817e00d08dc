# Re-render with: gnuplot ddpnopt-vanishing-gradients-train_loss.gp
set terminal svg size 1100,440 dynamic enhanced font 'Helvetica,12' background rgb 'white'
if (!exists("output")) output = 'ddpnopt-vanishing-gradients-train_loss.svg'
set output output
set multiplot layout 1,2 title 'ddpnopt-vanishing-gradients: training loss (per batch)' noenhanced
set grid
set key top right noenhanced
set logscale y
set style fill transparent solid 0.2 noborder
set xlabel 'iteration'
plot 'ddpnopt-vanishing-gradients-train_loss-m0.dat' using 1:4:5 with filledcurves lc 1 notitle, 'ddpnopt-vanishing-gradients-train_loss-m0.dat' using 1:3 with lines lw 2 lc 1 title 'sgd:lr=0.1', 'ddpnopt-vanishing-gradients-train_loss-m1.dat' using 1:4:5 with filledcurves lc 2 notitle, 'ddpnopt-vanishing-gradients-train_loss-m1.dat' using 1:3 with lines lw 2 lc 2 title 'ekfac:lr=0.01', 'ddpnopt-vanishing-gradients-train_loss-m2.dat' using 1:4:5 with filledcurves lc 3 notitle, 'ddpnopt-vanishing-gradients-train_loss-m2.dat' using 1:3 with lines lw 2 lc 3 title 'ddpnopt:curvature=identity,lr=0.1,second_order=true,value_hessian=full'
set xlabel 'training time (s)'
plot 'ddpnopt-vanishing-gradients-train_loss-m0.dat' using 2:4:5 with filledcurves lc 1 notitle, 'ddpnopt-vanishing-gradients-train_loss-m0.dat' using 2:3 with lines lw 2 lc 1 title 'sgd:lr=0.1', 'ddpnopt-vanishing-gradients-train_loss-m1.dat' using 2:4:5 with filledcurves lc 2 notitle, 'ddpnopt-vanishing-gradients-train_loss-m1.dat' using 2:3 with lines lw 2 lc 2 title 'ekfac:lr=0.01', 'ddpnopt-vanishing-gradients-train_loss-m2.dat' using 2:4:5 with filledcurves lc 3 notitle, 'ddpnopt-vanishing-gradients-train_loss-m2.dat' using 2:3 with lines lw 2 lc 3 title 'ddpnopt:curvature=identity,lr=0.1,second_order=true,value_hessian=full'
unset multiplot
