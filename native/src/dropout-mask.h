#pragma once
#include <ATen/ATen.h>

#include <cstdint>

namespace streamnest {

/**
 * A dropout mask: a new CPU tensor of `shape` and `dtype` (float32 or bfloat16) holding 1/keep where an element is
 * kept and 0 where it is dropped, each element kept with probability `keep` (in (0, 1)) by a Philox4x32-10 draw
 * keyed by `seed`. The mask depends on the seed, the shape's element count and `keep` only: not on the thread count
 * or the CPU's vector width. An undefined tensor for another dtype. See dropout-mask.cc for the element mapping.
 */
at::Tensor DropoutMask(at::IntArrayRef shape, at::ScalarType dtype, uint64_t seed, double keep);

/**
 * "avx512", "avx2" or "generic": the loop DropoutMask runs on this CPU (STREAMNEST_DROPOUT_KERNEL=avx2 or =generic
 * picks a narrower one).
 */
const char* DropoutMaskKernel();

}  // namespace streamnest
