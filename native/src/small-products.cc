// x [rows, in] W^T + b for a few rows (2 to a few dozen: the new frames of a streaming step, or of a batch of streams)
// through a kernel of our own. Why: ATen sends these products to BLAS's gemm, and OpenBLAS (0.3.21, its Haswell kernels
// as this project's machines are configured) reaches 30-45 GFLOP/s at 4-8 rows over a weight read from memory, where
// the core does about 100 (AVX2) or 200 (AVX-512): it packs both operands for every call and its blocking is made for
// large products. Here the weight is packed once (PackForSmallProducts, cached with it by the caller) into column
// panels of NR floats, [panel][in][NR], so a product streams it once, front to back; a register block of MR rows by NR
// columns (MR x 2 vector accumulators) walks the inner dimension, reading one broadcast x value per row and two weight
// vectors per step. bench/small-products.js measures it against ATen (BENCHMARKS.md "A small-product kernel").
// The sums run in the inner dimension's order per output (float rounding differs from BLAS's blocked sums).
// Kernels: AVX-512F (NR 32, MR up to 8) or AVX2 + FMA (NR 16, MR up to 4), chosen at run time from the CPU; on other
// CPUs (or with STREAMNEST_SMALL_PRODUCTS=off) SmallProductKernel() is nullptr and callers keep ATen's route.
#include "small-products.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define STREAMNEST_SMALL_PRODUCTS_X86 1
#endif

namespace streamnest {

namespace {

// One register block: rows [0, MR) of x (row stride xs) times one panel of NR columns (`in` rows of row stride ps:
// NR in a packed weight, the matrix's row stride in a plain one) into y (row stride ys), `cols` of the panel's NR
// columns valid (the last panel of a width that NR does not divide), bias at the panel's first column or null.
// Masked: the panel's reads are masked to its `cols` columns too (a plain matrix, whose rows end there).
using BlockFn = void (*)(const float* x, int64_t xs, const float* panel, int64_t ps, int64_t in, float* y, int64_t ys,
                         const float* bias, int cols);

struct Kernel {
  const char* name;
  int nr;
  int maxRows;
  BlockFn blocks[9];        // blocks[mr] for mr in [1, maxRows], reading whole panels (packed, zero-padded)
  BlockFn maskedBlocks[9];  // the same, reading only the panel's valid columns
};

#ifdef STREAMNEST_SMALL_PRODUCTS_X86

template <int MR, bool Masked>
__attribute__((target("avx512f"))) void Block512(const float* x, int64_t xs, const float* panel, int64_t ps, int64_t in,
                                                float* y, int64_t ys, const float* bias, int cols) {
  const __mmask16 m0 = cols >= 16 ? 0xffff : static_cast<__mmask16>((1u << cols) - 1);
  const __mmask16 m1 = cols >= 32 ? 0xffff : cols <= 16 ? 0 : static_cast<__mmask16>((1u << (cols - 16)) - 1);
  const __m512 b0 = bias ? _mm512_maskz_loadu_ps(m0, bias) : _mm512_setzero_ps();
  const __m512 b1 = bias ? _mm512_maskz_loadu_ps(m1, bias + 16) : _mm512_setzero_ps();
  __m512 acc[MR][2];
#pragma GCC unroll 8
  for (int i = 0; i < MR; i++) acc[i][0] = b0, acc[i][1] = b1;
  for (int64_t k = 0; k < in; k++) {
    const float* row = panel + k * ps;
    const __m512 w0 = Masked ? _mm512_maskz_loadu_ps(m0, row) : _mm512_loadu_ps(row);
    const __m512 w1 = Masked ? _mm512_maskz_loadu_ps(m1, row + 16) : _mm512_loadu_ps(row + 16);
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
      const __m512 a = _mm512_set1_ps(x[i * xs + k]);
      acc[i][0] = _mm512_fmadd_ps(a, w0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(a, w1, acc[i][1]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; i++) {
    _mm512_mask_storeu_ps(y + i * ys, m0, acc[i][0]);  // masked-off lanes are neither written nor faulted on
    _mm512_mask_storeu_ps(y + i * ys + 16, m1, acc[i][1]);
  }
}

/** The AVX2 mask of the first n of 8 lanes (all-ones lanes take part in maskload / maskstore). */
__attribute__((target("avx2"))) __m256i FirstLanes(int n) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane);
}

template <int MR, bool Masked>
__attribute__((target("avx2,fma"))) void Block256(const float* x, int64_t xs, const float* panel, int64_t ps, int64_t in,
                                                  float* y, int64_t ys, const float* bias, int cols) {
  const __m256i m0 = FirstLanes(std::min(cols, 8)), m1 = FirstLanes(std::max(cols - 8, 0));
  const __m256 b0 = bias ? _mm256_maskload_ps(bias, m0) : _mm256_setzero_ps();
  const __m256 b1 = bias ? _mm256_maskload_ps(bias + 8, m1) : _mm256_setzero_ps();
  __m256 acc[MR][2];
#pragma GCC unroll 4
  for (int i = 0; i < MR; i++) acc[i][0] = b0, acc[i][1] = b1;
  for (int64_t k = 0; k < in; k++) {
    const float* row = panel + k * ps;
    const __m256 w0 = Masked ? _mm256_maskload_ps(row, m0) : _mm256_loadu_ps(row);
    const __m256 w1 = Masked ? _mm256_maskload_ps(row + 8, m1) : _mm256_loadu_ps(row + 8);
#pragma GCC unroll 4
    for (int i = 0; i < MR; i++) {
      const __m256 a = _mm256_broadcast_ss(x + i * xs + k);
      acc[i][0] = _mm256_fmadd_ps(a, w0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(a, w1, acc[i][1]);
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < MR; i++) {
    _mm256_maskstore_ps(y + i * ys, m0, acc[i][0]);  // masked-off lanes are neither written nor faulted on
    _mm256_maskstore_ps(y + i * ys + 8, m1, acc[i][1]);
  }
}

const Kernel kAvx512 = {"avx512",
                        32,
                        8,
                        {nullptr, Block512<1, false>, Block512<2, false>, Block512<3, false>, Block512<4, false>, Block512<5, false>,
                         Block512<6, false>, Block512<7, false>, Block512<8, false>},
                        {nullptr, Block512<1, true>, Block512<2, true>, Block512<3, true>, Block512<4, true>, Block512<5, true>,
                         Block512<6, true>, Block512<7, true>, Block512<8, true>}};
const Kernel kAvx2 = {"avx2",
                      16,
                      4,
                      {nullptr, Block256<1, false>, Block256<2, false>, Block256<3, false>, Block256<4, false>},
                      {nullptr, Block256<1, true>, Block256<2, true>, Block256<3, true>, Block256<4, true>}};

// STREAMNEST_SMALL_PRODUCTS: "off" (or "0") for no kernel (ATen's routes), "avx2" for the AVX2 kernel on a CPU that
// has AVX-512 too (tests, comparisons); unset or anything else: the widest this CPU runs.
const Kernel* Choose() {
  const char* want = std::getenv("STREAMNEST_SMALL_PRODUCTS");
  const std::string w = want ? want : "";
  if (w == "off" || w == "0") return nullptr;
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (w != "avx2" && __builtin_cpu_supports("avx512f")) return &kAvx512;
  return avx2 ? &kAvx2 : nullptr;
}

#else

const Kernel* Choose() { return nullptr; }

#endif

const Kernel* TheKernel() {
  static const Kernel* k = Choose();
  return k;
}

// The m rows of x (row stride xs) times one panel (see BlockFn) into y, in register blocks of about equal height
// (each at most the kernel's maxRows), through `fns` (the kernel's whole-panel or masked blocks).
void PanelTimesRows(const Kernel* k, const BlockFn* fns, int64_t m, const float* x, int64_t xs, const float* panel,
                    int64_t ps, int64_t in, float* y, int64_t ys, const float* bias, int cols) {
  const int64_t blocks = (m + k->maxRows - 1) / k->maxRows;
  int64_t r = 0;
  for (int64_t blk = 0; blk < blocks; blk++) {
    const int mr = static_cast<int>((m - r) / (blocks - blk));
    fns[mr](x + r * xs, xs, panel, ps, in, y + r * ys, ys, bias, cols);
    r += mr;
  }
}

}  // namespace

const char* SmallProductKernel() {
  const Kernel* k = TheKernel();
  return k ? k->name : nullptr;
}

at::Tensor PackForSmallProducts(const at::Tensor& weight) {
  const Kernel* k = TheKernel();
  TORCH_CHECK(k, "no small-product kernel for this CPU");
  TORCH_CHECK(weight.dim() == 2 && weight.scalar_type() == at::kFloat && weight.device().is_cpu(),
              "expected a float32 CPU weight [out, in], got ", weight.sizes(), " ", weight.scalar_type());
  const int64_t out = weight.size(0), in = weight.size(1), panels = (out + k->nr - 1) / k->nr;
  at::NoGradGuard ng;
  at::Tensor padded = at::constant_pad_nd(weight, {0, 0, 0, panels * k->nr - out});  // [panels * NR, in]
  return padded.view({panels, k->nr, in}).transpose(1, 2).contiguous();            // [panels, in, NR]
}

// Rows per chunk when there are many rows (a convolution's output positions): each chunk runs every panel, so its
// outputs are written once, together, while in cache (ReLU'd there), instead of one column panel of all rows at a time.
constexpr int64_t kRowChunk = 64;

// max(y, 0) over n floats, in the kernel's instruction set. The plain loop compiled for the baseline is a compare and
// a branch per element (GCC -O2), mispredicted on about half of a convolution's outputs: 5 ns per element in the
// step (3.5 M elements: 18 ms against the products' 0.6).
#ifdef STREAMNEST_SMALL_PRODUCTS_X86
__attribute__((target("avx512f"))) void Relu512(float* y, int64_t n) {
  const __m512 zero = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_max_ps(_mm512_loadu_ps(y + i), zero));
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, m, _mm512_max_ps(_mm512_maskz_loadu_ps(m, y + i), zero));
  }
}
__attribute__((target("avx2"))) void Relu256(float* y, int64_t n) {
  const __m256 zero = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_max_ps(_mm256_loadu_ps(y + i), zero));
  for (; i < n; i++) y[i] = y[i] > 0.0f ? y[i] : 0.0f;
}
#endif
void ReluInPlace(const Kernel* k, float* y, int64_t n) {
#ifdef STREAMNEST_SMALL_PRODUCTS_X86
  if (k == &kAvx512) return Relu512(y, n);
  return Relu256(y, n);
#else
  for (int64_t i = 0; i < n; i++) y[i] = y[i] > 0.0f ? y[i] : 0.0f;
#endif
}

at::Tensor SmallProducts(const at::Tensor& x, const at::Tensor& packed, int64_t out, const at::Tensor& bias, bool relu) {
  const Kernel* k = TheKernel();
  TORCH_CHECK(k, "no small-product kernel for this CPU");
  TORCH_CHECK(packed.dim() == 3 && packed.size(2) == k->nr && packed.is_contiguous() && packed.scalar_type() == at::kFloat,
              "expected a weight packed for the ", k->name, " kernel ([panels, in, ", k->nr, "]), got ", packed.sizes());
  const int64_t in = packed.size(1), panels = packed.size(0);
  TORCH_CHECK(out > (panels - 1) * k->nr && out <= panels * k->nr, "a packed weight of ", panels, " panels cannot have ", out, " rows");
  TORCH_CHECK(x.dim() >= 1 && x.size(-1) == in && x.scalar_type() == at::kFloat && x.device().is_cpu(),
              "expected float32 CPU x [..., ", in, "], got ", x.sizes(), " ", x.scalar_type());
  TORCH_CHECK(!bias.defined() || (bias.numel() == out && bias.scalar_type() == at::kFloat && bias.device().is_cpu()),
              "expected a float32 CPU bias of ", out, " values");
  at::NoGradGuard ng;
  const at::Tensor rows = x.reshape({-1, in}).contiguous();
  const at::Tensor b = bias.defined() ? bias.reshape({out}).contiguous() : at::Tensor();
  const int64_t m = rows.size(0);
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape.back() = out;
  at::Tensor y = at::empty({m, out}, x.options());
  if (m == 0 || out == 0) return y.view(shape);
  const float* px = rows.data_ptr<float>();
  const float* pw = packed.data_ptr<float>();
  const float* pb = b.defined() ? b.data_ptr<float>() : nullptr;
  float* py = y.data_ptr<float>();
  // Every panel over rows [r0, r1).
  auto rowsTimesPanels = [&](int64_t r0, int64_t r1, int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; p++) {
      const int64_t col = p * k->nr;
      const int cols = static_cast<int>(std::min<int64_t>(k->nr, out - col));
      PanelTimesRows(k, k->blocks, r1 - r0, px + r0 * in, in, pw + p * in * k->nr, k->nr, in, py + r0 * out + col, out,
                     pb ? pb + col : nullptr, cols);
    }
  };
  if (m <= kRowChunk) {
    // a task of at least ~64K multiply-adds (a single thread takes them all inline)
    const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(1, m * in * k->nr));
    at::parallel_for(0, panels, grain, [&](int64_t p0, int64_t p1) { rowsTimesPanels(0, m, p0, p1); });
    if (relu) ReluInPlace(k, py, m * out);
  } else {
    const int64_t chunks = (m + kRowChunk - 1) / kRowChunk;
    at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; c++) {
        const int64_t r0 = c * kRowChunk, r1 = std::min(m, r0 + kRowChunk);
        rowsTimesPanels(r0, r1, 0, panels);
        if (relu) ReluInPlace(k, py + r0 * out, (r1 - r0) * out);
      }
    });
  }
  return y.view(shape);
}

at::Tensor SmallBatchedProducts(const at::Tensor& a, const at::Tensor& b) {
  const Kernel* k = TheKernel();
  const int64_t d = a.dim();
  if (!k || (d != 3 && d != 4) || b.dim() != d || a.scalar_type() != at::kFloat || b.scalar_type() != at::kFloat ||
      !a.device().is_cpu() || !b.device().is_cpu() || a.size(d - 1) != b.size(d - 2) ||
      a.sizes().slice(0, d - 2) != b.sizes().slice(0, d - 2) || a.size(d - 2) > kSmallBatchedRows || a.stride(d - 1) != 1 ||
      b.stride(d - 1) != 1 || a.numel() == 0 || b.numel() == 0)
    return at::Tensor();
  at::NoGradGuard ng;
  const int64_t m = a.size(d - 2), in = a.size(d - 1), n = b.size(d - 1);
  const int64_t outer = d == 4 ? a.size(0) : 1, inner = a.size(d - 3);
  const int64_t ao = d == 4 ? a.stride(0) : 0, ai = a.stride(d - 3), as = a.stride(d - 2);
  const int64_t bo = d == 4 ? b.stride(0) : 0, bi = b.stride(d - 3), bs = b.stride(d - 2);
  std::vector<int64_t> shape(a.sizes().begin(), a.sizes().end());
  shape.back() = n;
  at::Tensor y = at::empty(shape, a.options());
  const float* pa = a.data_ptr<float>();
  const float* pb = b.data_ptr<float>();
  float* py = y.data_ptr<float>();
  const int64_t panels = (n + k->nr - 1) / k->nr;
  for (int64_t i = 0; i < outer; i++)
    for (int64_t j = 0; j < inner; j++, py += m * n) {
      const float* x = pa + i * ao + j * ai;
      const float* w = pb + i * bo + j * bi;
      for (int64_t p = 0; p < panels; p++) {
        const int64_t col = p * k->nr;
        const int cols = static_cast<int>(std::min<int64_t>(k->nr, n - col));
        PanelTimesRows(k, cols < k->nr ? k->maskedBlocks : k->blocks, m, x, as, w + col, bs, in, py + col, n, nullptr, cols);
      }
    }
  return y;
}

}  // namespace streamnest
