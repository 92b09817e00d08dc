#pragma once

#include <torch/types.h>

#include <cstdint>

namespace octrain::methods {

// The stabilised per-weight maximisers of discrete-weight MSA (docs/methods/discrete-msa.md,
// [DMSA]). With σ = sign(E) (0 → +1) and the relative threshold ρ_k = ρ · max{|E_ij| : θ_ij ≠
// σ_ij}, they are the exact per-entry argmax over the control set of the penalised Hamiltonian
//   binary:  E θ' − (ρ_k/2)(θ' − θ)²          ternary:  E θ' − λ|θ'| − ρ_k (θ' − θ)²
// (strict inequalities keep θ on ties). When no entry is "wrong" (θ = σ everywhere) ρ_k is
// undefined and θ stays unchanged. Because ρ_k scales with E, the rules are invariant to
// rescaling E (up to λ, which is absolute). Both update θ in place and return how many entries
// changed (the flips).
int64_t binary_msa_update_(torch::Tensor& theta, const torch::Tensor& E, double rho);
int64_t ternary_msa_update_(torch::Tensor& theta, const torch::Tensor& E, double rho,
                            double lambda);

}  // namespace octrain::methods
