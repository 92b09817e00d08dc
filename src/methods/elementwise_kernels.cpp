// Built with -fno-math-errno and without the libtorch PCH (CMakeLists.txt): √ then vectorises.
#include "octrain/methods/elementwise_kernels.h"

#include <cmath>
#include <type_traits>

// An AVX2 clone beside the baseline one, chosen at load time. Neither uses FMA, so the two give
// the same bits: each operation is a correctly rounded IEEE one.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define OCTRAIN_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define OCTRAIN_VECTOR_CLONES
#endif
#define OCTRAIN_INLINE inline __attribute__((always_inline))
#define OCTRAIN_LAMBDA_INLINE __attribute__((always_inline))

namespace octrain::methods::kernels {
namespace {

// f(std::true_type) or f(std::false_type): one loop compiled per case, no test inside it.
template <typename F>
OCTRAIN_INLINE void branch(bool condition, const F& f) {
  if (condition)
    f(std::true_type{});
  else
    f(std::false_type{});
}

// The moments shared by Adam, RMSprop and DDPNOpt's diagonal curvature. Each line names the
// torch::optim tensor op it stands for; scalars are rounded to T first, as ATen does for a
// Python-number operand.
template <typename T>
OCTRAIN_INLINE T moving_average(T average, T value, T decay, T rest) {
  return average * decay + rest * value;  // average.mul_(decay).add_(value, 1 − decay)
}
template <typename T>
OCTRAIN_INLINE T moving_square(T average, T value, T decay, T rest) {
  return average * decay + rest * value * value;  // .mul_(decay).addcmul_(g, g, 1 − decay)
}
template <typename T>
OCTRAIN_INLINE T adam_denominator(T second_moment, T root, T eps) {
  return std::sqrt(second_moment) / root + eps;  // (v.sqrt() / √c₂).add_(ε)
}

template <typename T, bool Amsgrad>
OCTRAIN_INLINE void adam_pass(T* __restrict p, const T* __restrict g, T* __restrict m,
                              T* __restrict v, T* __restrict v_max, int64_t n, T scale,
                              const AdamCoefficients& c) {
  const T beta1 = T(c.beta1), rest1 = T(1 - c.beta1), beta2 = T(c.beta2), rest2 = T(1 - c.beta2),
          root = T(c.sqrt_correction2), eps = T(c.eps), step = T(-c.step_size);
  for (int64_t i = 0; i < n; ++i) {
    const T gi = scale * g[i];
    const T mi = moving_average(m[i], gi, beta1, rest1);
    T vi = moving_square(v[i], gi, beta2, rest2);
    m[i] = mi;
    v[i] = vi;
    if constexpr (Amsgrad) {
      vi = v_max[i] < vi ? vi : v_max[i];  // max_out(max_exp_avg_sq, exp_avg_sq, max_exp_avg_sq)
      v_max[i] = vi;
    }
    p[i] = p[i] + step * mi / adam_denominator(vi, root, eps);  // p.addcdiv_(m, denom, −step)
  }
}

template <typename T, bool Momentum, bool FirstStep, bool Nesterov>
OCTRAIN_INLINE void sgd_pass(T* __restrict p, const T* __restrict g, T* __restrict b, int64_t n,
                             T scale, const SgdCoefficients& c) {
  const T lr = T(-c.lr), mu = T(c.momentum), rest = T(1 - c.dampening);
  for (int64_t i = 0; i < n; ++i) {
    const T gi = scale * g[i];
    T d = gi;
    if constexpr (Momentum) {
      const T bi = FirstStep ? gi : b[i] * mu + rest * gi;  // buf.mul_(μ).add_(d_p, 1 − damp.)
      b[i] = bi;
      d = Nesterov ? gi + mu * bi : bi;  // d_p.add(buf, μ)
    }
    p[i] = p[i] + lr * d;  // p.add_(d_p, −lr)
  }
}

template <typename T, bool Centered, bool Momentum>
OCTRAIN_INLINE void rmsprop_pass(T* __restrict p, const T* __restrict g, T* __restrict s,
                                 T* __restrict a, T* __restrict b, int64_t n, T scale,
                                 const RmspropCoefficients& c) {
  const T alpha = T(c.alpha), rest = T(1 - c.alpha), eps = T(c.eps), mu = T(c.momentum),
          lr = T(-c.lr);
  for (int64_t i = 0; i < n; ++i) {
    const T gi = scale * g[i];
    const T si = moving_square(s[i], gi, alpha, rest);
    s[i] = si;
    T r;
    if constexpr (Centered) {
      const T ai = moving_average(a[i], gi, alpha, rest);
      a[i] = ai;
      r = std::sqrt(si - ai * ai) + eps;  // square_avg.addcmul(a, a, −1).sqrt_().add_(ε)
    } else {
      r = std::sqrt(si) + eps;  // square_avg.sqrt().add_(ε)
    }
    if constexpr (Momentum) {
      const T bi = b[i] * mu + gi / r;  // buf.mul_(μ).addcdiv_(g, avg)
      b[i] = bi;
      p[i] = p[i] + lr * bi;  // p.add_(buf, −lr)
    } else {
      p[i] = p[i] + lr * gi / r;  // p.addcdiv_(g, avg, −lr)
    }
  }
}

}  // namespace

template <typename T>
OCTRAIN_VECTOR_CLONES void adam(T* p, const T* g, T* m, T* v, T* v_max, int64_t n, double scale,
                                const AdamCoefficients& c) {
  branch(v_max != nullptr, [&](auto amsgrad) OCTRAIN_LAMBDA_INLINE {
    adam_pass<T, decltype(amsgrad)::value>(p, g, m, v, v_max, n, T(scale), c);
  });
}

template <typename T>
OCTRAIN_VECTOR_CLONES void sgd(T* p, const T* g, T* b, int64_t n, double scale,
                               const SgdCoefficients& c) {
  if (c.momentum == 0) return sgd_pass<T, false, false, false>(p, g, nullptr, n, T(scale), c);
  branch(c.first_step, [&](auto first) OCTRAIN_LAMBDA_INLINE {
    branch(c.nesterov, [&](auto nesterov) OCTRAIN_LAMBDA_INLINE {
      sgd_pass<T, true, decltype(first)::value, decltype(nesterov)::value>(p, g, b, n, T(scale), c);
    });
  });
}

template <typename T>
OCTRAIN_VECTOR_CLONES void rmsprop(T* p, const T* g, T* s, T* a, T* b, int64_t n, double scale,
                                   const RmspropCoefficients& c) {
  branch(a != nullptr, [&](auto centered) OCTRAIN_LAMBDA_INLINE {
    branch(b != nullptr, [&](auto momentum) OCTRAIN_LAMBDA_INLINE {
      rmsprop_pass<T, decltype(centered)::value, decltype(momentum)::value>(p, g, s, a, b, n,
                                                                            T(scale), c);
    });
  });
}

template <typename T>
OCTRAIN_VECTOR_CLONES void adagrad(T* __restrict p, const T* __restrict g, T* __restrict s,
                                   int64_t n, double scale, double clr, double eps) {
  const T k = T(scale), step = T(-clr), e = T(eps);
  for (int64_t i = 0; i < n; ++i) {
    const T gi = k * g[i];
    const T si = s[i] + gi * gi;  // sum.addcmul_(g, g, 1)
    s[i] = si;
    p[i] = p[i] + step * gi / (std::sqrt(si) + e);  // p.addcdiv_(g, sum.sqrt().add_(ε), −clr)
  }
}

template <typename T>
OCTRAIN_VECTOR_CLONES void diagonal_curvature(T* __restrict v, const T* __restrict g,
                                              T* __restrict d, int64_t n, double beta2,
                                              double sqrt_correction2, double eps) {
  const T beta = T(beta2), rest = T(1 - beta2), root = T(sqrt_correction2), e = T(eps);
  for (int64_t i = 0; i < n; ++i) {
    const T vi = moving_square(v[i], g[i], beta, rest);
    v[i] = vi;
    d[i] = adam_denominator(vi, root, e);
  }
}

template <typename T>
OCTRAIN_VECTOR_CLONES void preconditioned_moment(T* __restrict m, const T* __restrict d,
                                                 const T* __restrict denominator,
                                                 T* __restrict step, int64_t n, double beta1,
                                                 double scale) {
  const T beta = T(beta1), rest = T(1 - beta1), s = T(scale);
  for (int64_t i = 0; i < n; ++i) {
    const T mi = moving_average(m[i], d[i], beta, rest);
    m[i] = mi;
    step[i] = mi / denominator[i] * s;  // (m / denominator) * scale
  }
}

// The float and double kernels, each with its clones.
#define OCTRAIN_INSTANTIATE_KERNELS(T)                                                          \
  template void adam(T*, const T*, T*, T*, T*, int64_t, double, const AdamCoefficients&);       \
  template void sgd(T*, const T*, T*, int64_t, double, const SgdCoefficients&);                 \
  template void adagrad(T*, const T*, T*, int64_t, double, double, double);                     \
  template void rmsprop(T*, const T*, T*, T*, T*, int64_t, double, const RmspropCoefficients&); \
  template void diagonal_curvature(T*, const T*, T*, int64_t, double, double, double);          \
  template void preconditioned_moment(T*, const T*, const T*, T*, int64_t, double, double);
OCTRAIN_INSTANTIATE_KERNELS(float)
OCTRAIN_INSTANTIATE_KERNELS(double)

}  // namespace octrain::methods::kernels
