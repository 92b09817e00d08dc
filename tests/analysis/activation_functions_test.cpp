// The mean-field table covers every network activation, with the networks' own formulas.
#include "octrain/analysis/activation_functions.h"

#include <gtest/gtest.h>

#include <set>

#include "octrain/control/activation.h"
#include "octrain/control/activation_formulas.h"

namespace octrain::analysis {
namespace {

TEST(ActivationFunctions, CoverEveryNetworkActivationWithItsFormulas) {
  std::set<control::Activation> covered;
  for (const auto& name : activation_function_names()) {
    const auto a = control::parse_activation(name);  // "linear" is the identity in both
    covered.insert(a);
    const auto& f = activation_functions(name);
    for (double u : {-3.1, -0.2, 0.0, 0.9, 24.0}) {
      const double s = control::formulas::value(a, u);
      EXPECT_EQ(f.phi(u), s) << name << " " << u;
      EXPECT_EQ(f.dphi(u), control::formulas::slope(a, u, s)) << name << " " << u;
      EXPECT_EQ(f.d2phi(u), control::formulas::curvature(a, u, s)) << name << " " << u;
    }
  }
  EXPECT_EQ(covered.size(), std::size(control::kActivations));
}

}  // namespace
}  // namespace octrain::analysis
