// The Conformer conv module's depthwise convolution in a streaming step: a few output frames (the step's new ones) per
// channel, each a dot product of K weights with a window of [cache, new frames]. Why our own: ATen has no route that
// fits these shapes. Its conv1d (oneDNN) costs 40 us for one stream's 176 channels x 4 frames, and the route the step
// took before (unfold + a broadcast matmul of [B, C, T, K] @ [C, K, 1]: B*C products of T x K by K x 1) 80 us at 16
// streams for 0.1 M multiply-adds (BENCHMARKS.md "Batched streams: the step's small ops"). Here each (stream, channel)
// row is one short loop over four outputs at a time; the rows are independent and split over ATen's threads.
#include "step-kernels.h"

#include <ATen/Parallel.h>

#include <cstdint>

namespace streamnest {

namespace {

// Four floats (SSE2 on x86-64, or the target's own vectors): the outputs t..t+3 of one row accumulate side by side,
// four independent sums each in k's order (a float sum cannot be reordered; its own lanes need no reordering).
typedef float Float4 __attribute__((vector_size(16)));

inline Float4 Load4(const float* p) {
  Float4 v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}

// One row: y[t] = (sum_k w[k] x[t + k]) + b for t < T, each sum in k's order (the order the matmul route summed in).
template <int K>
inline void Row(const float* x, const float* w, float b, float* y, int64_t T) {
  int64_t t = 0;
  for (; t + 4 <= T; t += 4) {
    Float4 acc = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma GCC unroll 16
    for (int k = 0; k < K; k++) acc += w[k] * Load4(x + t + k);
    acc += b;
    __builtin_memcpy(y + t, &acc, sizeof acc);
  }
  for (; t < T; t++) {
    float acc = 0.0f;
#pragma GCC unroll 16
    for (int k = 0; k < K; k++) acc += w[k] * x[t + k];
    y[t] = acc + b;
  }
}

inline void RowAnyK(const float* x, const float* w, int64_t K, float b, float* y, int64_t T) {
  for (int64_t t = 0; t < T; t++) {
    float acc = 0.0f;
    for (int64_t k = 0; k < K; k++) acc += w[k] * x[t + k];
    y[t] = acc + b;
  }
}

}  // namespace

at::Tensor DepthwiseWindows(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  if (x.dim() != 3 || weight.dim() != 3 || x.scalar_type() != at::kFloat || weight.scalar_type() != at::kFloat) return {};
  if (!x.device().is_cpu() || !weight.device().is_cpu() || x.stride(2) != 1) return {};
  const int64_t B = x.size(0), C = x.size(1), L = x.size(2), K = weight.size(2);
  if (weight.size(0) != C || weight.size(1) != 1 || K > L) return {};
  if (bias.defined() && (bias.scalar_type() != at::kFloat || !bias.device().is_cpu() || bias.numel() != C)) return {};
  const int64_t T = L - K + 1;
  const at::Tensor w = weight.contiguous();
  const at::Tensor b = bias.defined() ? bias.contiguous() : at::Tensor();
  at::Tensor y = at::empty({B, C, T}, x.options().memory_format(at::MemoryFormat::Contiguous));
  const float* xp = x.data_ptr<float>();
  const float* wp = w.data_ptr<float>();
  const float* bp = b.defined() ? b.data_ptr<float>() : nullptr;
  float* yp = y.data_ptr<float>();
  const int64_t xs0 = x.stride(0), xs1 = x.stride(1);
  at::parallel_for(0, B * C, 64, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; r++) {
      const int64_t bi = r / C, c = r % C;
      const float* xr = xp + bi * xs0 + c * xs1;
      const float* wr = wp + c * K;
      const float bc = bp ? bp[c] : 0.0f;
      float* yr = yp + r * T;
      switch (K) {
        case 3: Row<3>(xr, wr, bc, yr, T); break;
        case 5: Row<5>(xr, wr, bc, yr, T); break;
        case 9: Row<9>(xr, wr, bc, yr, T); break;
        case 15: Row<15>(xr, wr, bc, yr, T); break;
        case 31: Row<31>(xr, wr, bc, yr, T); break;
        default: RowAnyK(xr, wr, K, bc, yr, T);
      }
    }
  });
  return y;
}

}  // namespace streamnest
