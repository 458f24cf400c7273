// Two small operations of a streaming step that ATen runs at a few ns per element, for which plain loops suffice
// (BENCHMARKS.md "Batched streams: the step's small ops"):
// - The Conformer conv module's depthwise convolution: a few output frames (the step's new ones) per channel, each a
//   dot product of K weights with a window of [cache, new frames]. ATen's conv1d (oneDNN) costs 40 us for one
//   stream's 176 channels x 4 frames, and the route the step took before (unfold + a broadcast matmul of
//   [B, C, T, K] @ [C, K, 1]: B*C products of T x K by K x 1) 80 us at 16 streams for 0.1 M multiply-adds. Here each
//   (stream, channel) row is one short loop; the rows are independent and split over ATen's threads.
// - The copy of a step's new keys into the attention cache, a transpose of [T, d_k] blocks (T = 4 frames): ATen's
//   copy_ takes 5-7 ns per element there (its inner loop runs over the 4 frames).
#include "step-kernels.h"

#include <ATen/Parallel.h>

#include <cstdint>

namespace streamnest {

namespace {

// One row: y[t] = b + sum_k w[k] x[t + k] for t < T, k in order (the order the matmul route summed in).
template <int K>
inline void Row(const float* x, const float* w, float b, float* y, int64_t T) {
  for (int64_t t = 0; t < T; t++) {
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

bool CopyStrided(at::Tensor& dst, const at::Tensor& src) {
  const int64_t n = dst.dim();
  if (n < 1 || n > 4 || !dst.sizes().equals(src.sizes())) return false;
  if (dst.scalar_type() != at::kFloat || src.scalar_type() != at::kFloat || !dst.device().is_cpu() || !src.device().is_cpu()) return false;
  if (dst.is_same(src) || dst.numel() == 0) return dst.numel() == 0;
  // Views of one storage could overlap (and copy_ would handle that): leave them to ATen.
  if (dst.storage().is_alias_of(src.storage())) return false;
  int64_t size[4] = {1, 1, 1, 1}, ds[4] = {0, 0, 0, 0}, ss[4] = {0, 0, 0, 0};
  for (int64_t i = 0; i < n; i++) {  // right-aligned: dims 4 - n .. 3
    size[4 - n + i] = dst.size(i);
    ds[4 - n + i] = dst.stride(i);
    ss[4 - n + i] = src.stride(i);
  }
  float* d = dst.data_ptr<float>();
  const float* s = src.data_ptr<float>();
  for (int64_t a = 0; a < size[0]; a++)
    for (int64_t b = 0; b < size[1]; b++)
      for (int64_t c = 0; c < size[2]; c++) {
        float* dr = d + a * ds[0] + b * ds[1] + c * ds[2];
        const float* sr = s + a * ss[0] + b * ss[1] + c * ss[2];
        for (int64_t e = 0; e < size[3]; e++) dr[e * ds[3]] = sr[e * ss[3]];
      }
  return true;
}

}  // namespace streamnest