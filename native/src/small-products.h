#pragma once
#include <ATen/ATen.h>

namespace streamnest {

// Products of a few rows with a linear weight (x [rows, in] W^T + b, rows up to a few dozen: a streaming step's new
// frames) through a kernel of our own over the weight packed once into column panels. See small-products.cc.

/** The kernel this CPU runs ("avx512", "avx2"), or nullptr where there is none (then callers use ATen). */
const char* SmallProductKernel();

/** W [out, in] (float32, CPU) packed for SmallProducts: [ceil(out / NR), in, NR], zero-padded; NR is the kernel's. */
at::Tensor PackForSmallProducts(const at::Tensor& weight);

/**
 * x [..., in] (float32, CPU) times the packed weight of `out` rows, plus bias [out] when defined, then max(0, .) when
 * `relu` -> [..., out]. Any number of rows: more than a few dozen (a convolution's output positions as rows) run in
 * chunks of rows, every panel per chunk.
 */
at::Tensor SmallProducts(const at::Tensor& x, const at::Tensor& packed, int64_t out, const at::Tensor& bias, bool relu);

/** The most rows (a's matrices' height) SmallBatchedProducts takes. */
constexpr int64_t kSmallBatchedRows = 16;

/**
 * a [..., m, k] @ b [..., k, n] (3-D or 4-D, the same batch shape, float32 CPU, m <= kSmallBatchedRows, both with
 * unit stride along their rows) through the same kernel reading b in place: attention's per-head products of a
 * streaming step's few query frames. An undefined tensor where it does not apply (the caller uses another route).
 */
at::Tensor SmallBatchedProducts(const at::Tensor& a, const at::Tensor& b);

}  // namespace streamnest
