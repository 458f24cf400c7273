// Dropout masks from a counter-based generator (Philox4x32-10, Salmon et al. 2011, "Parallel random numbers: as easy
// as 1, 2, 3"; the generator PyTorch's CUDA dropout draws from). Why our own: the masks of a training step with a
// generator of its own took ATen 1.13's rand (mt19937, one element at a time: 2.75 ns per element), a comparison, a
// cast and a division, 320 ms of a 1.0 s bf16 encoder forward at NEST-Small's training shapes (113 dropouts, 75 M
// elements; BENCHMARKS.md "Mixed precision"). Here one pass writes the scaled mask; the draws of 16 counters run side
// by side: in AVX-512 lanes, as two vectors of 8 with AVX2, or in a plain loop on other CPUs.
//
// Element mapping (the same in every loop): the elements are taken in blocks of 64; element e of block b = e / 64 is
// word w = (e % 64) / 16 of the Philox output for counter j = 16 b + e % 16, with counter words (lo32(j), hi32(j), 0, 0)
// and key (lo32(seed), hi32(seed)). It is kept when that word is below round(keep * 2^32) (clamped to 2^32 - 1).
#include "dropout-mask.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#if defined(__x86_64__)
#include <immintrin.h>
// GCC 12's AVX-512 headers start some intrinsics from a self-initialised "undefined" vector, which
// -Wmaybe-uninitialized reports once inlined (GCC bug 105593); nothing here reads an uninitialised value.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace streamnest {

namespace {

constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;  // Philox4x32 multipliers
constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;  // its key schedule (Weyl sequence) increments
constexpr int64_t kBlock = 64;

struct MaskParams {
  uint32_t k0, k1, threshold;
  float scale;          // float32 mask value where kept
  uint16_t scaleBf16;   // its bfloat16 bits
};

// Block b's 64 outputs (written from `out`, the block's first element) from the Philox4x32-10 words of its 16
// counters, in plain C++ (CPUs without AVX2, and the last, partial block on every CPU).
template <typename Out>
inline void Block16(Out* out, int64_t b, const MaskParams& m) {
  uint32_t c0[16], c1[16], c2[16], c3[16];
  const uint64_t j = static_cast<uint64_t>(16 * b);  // a multiple of 16: lo32 does not wrap inside the block
  for (int l = 0; l < 16; l++) {
    c0[l] = static_cast<uint32_t>(j) + static_cast<uint32_t>(l);
    c1[l] = static_cast<uint32_t>(j >> 32);
    c2[l] = 0;
    c3[l] = 0;
  }
  uint32_t k0 = m.k0, k1 = m.k1;
  for (int r = 0; r < 10; r++) {
    if (r > 0) {
      k0 += kW0;
      k1 += kW1;
    }
    for (int l = 0; l < 16; l++) {
      const uint64_t p0 = static_cast<uint64_t>(kM0) * c0[l], p1 = static_cast<uint64_t>(kM1) * c2[l];
      const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1[l] ^ k0, n2 = static_cast<uint32_t>(p0 >> 32) ^ c3[l] ^ k1;
      c0[l] = n0;
      c1[l] = static_cast<uint32_t>(p1);
      c2[l] = n2;
      c3[l] = static_cast<uint32_t>(p0);
    }
  }
  const uint32_t* words[4] = {c0, c1, c2, c3};
  for (int w = 0; w < 4; w++) {
    for (int l = 0; l < 16; l++) {
      const bool kept = words[w][l] < m.threshold;
      if constexpr (sizeof(Out) == 4) {
        out[16 * w + l] = kept ? m.scale : 0.0f;
      } else {
        out[16 * w + l] = kept ? m.scaleBf16 : 0;
      }
    }
  }
}

// Blocks [begin, end) through Block16, compiled for the baseline target (SSE2 on x86-64).
template <typename Out>
void BlocksGeneric(Out* y, int64_t begin, int64_t end, const MaskParams& m) {
  for (int64_t b = begin; b < end; b++) Block16(y + b * kBlock, b, m);
}

// The last, partial block of n elements: the whole block into a buffer, the elements that exist copied out.
template <typename Out>
void Tail(Out* y, int64_t n, const MaskParams& m) {
  const int64_t b = n / kBlock, first = b * kBlock;
  if (first == n) return;
  Out block[kBlock];
  Block16(block, b, m);
  std::memcpy(y + first, block, static_cast<size_t>(n - first) * sizeof(Out));
}

#if defined(__x86_64__)

// hi:lo = m * c for the 16 32-bit lanes of c (AVX-512F has only the even lanes' 32 x 32 -> 64 product: the odd lanes
// are shifted down, multiplied and put back).
__attribute__((target("avx512f"))) inline void MulHiLo(__m512i c, __m512i m, __m512i* hi, __m512i* lo) {
  const __m512i even = _mm512_mul_epu32(c, m);
  const __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(c, 32), m);
  *lo = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
  *hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
}

// Blocks [begin, end): each block's 16 counters side by side, then 16 outputs per Philox word.
template <bool kBf16>
__attribute__((target("avx512f"))) void Blocks512(void* out, int64_t begin, int64_t end, const MaskParams& m) {
  const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i m0 = _mm512_set1_epi32(static_cast<int>(kM0)), m1 = _mm512_set1_epi32(static_cast<int>(kM1));
  const __m512i threshold = _mm512_set1_epi32(static_cast<int>(m.threshold));
  const __m512 scale = _mm512_set1_ps(m.scale);
  const __m512i scaleBf16 = _mm512_set1_epi32(m.scaleBf16);
  for (int64_t b = begin; b < end; b++) {
    const uint64_t j = static_cast<uint64_t>(16 * b);  // a multiple of 16: lo32 does not wrap inside the block
    __m512i c0 = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(j))), lanes);
    __m512i c1 = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(j >> 32)));
    __m512i c2 = _mm512_setzero_si512(), c3 = _mm512_setzero_si512();
    uint32_t k0 = m.k0, k1 = m.k1;
    for (int r = 0; r < 10; r++) {
      if (r > 0) {
        k0 += kW0;
        k1 += kW1;
      }
      __m512i hi0, lo0, hi1, lo1;
      MulHiLo(c0, m0, &hi0, &lo0);
      MulHiLo(c2, m1, &hi1, &lo1);
      c0 = _mm512_xor_si512(_mm512_xor_si512(hi1, c1), _mm512_set1_epi32(static_cast<int>(k0)));
      c1 = lo1;
      c2 = _mm512_xor_si512(_mm512_xor_si512(hi0, c3), _mm512_set1_epi32(static_cast<int>(k1)));
      c3 = lo0;
    }
    const __m512i words[4] = {c0, c1, c2, c3};
    for (int w = 0; w < 4; w++) {
      const __mmask16 kept = _mm512_cmplt_epu32_mask(words[w], threshold);
      const int64_t at = b * kBlock + 16 * w;
      if constexpr (kBf16) {
        const __m256i v = _mm512_cvtepi32_epi16(_mm512_maskz_mov_epi32(kept, scaleBf16));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(static_cast<uint16_t*>(out) + at), v);
      } else {
        _mm512_storeu_ps(static_cast<float*>(out) + at, _mm512_maskz_mov_ps(kept, scale));
      }
    }
  }
}

// hi:lo = m * c for the 8 32-bit lanes of c (as MulHiLo, with AVX2's even-lane product).
__attribute__((target("avx2"))) inline void MulHiLo256(__m256i c, __m256i m, __m256i* hi, __m256i* lo) {
  const __m256i even = _mm256_mul_epu32(c, m);
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(c, 32), m);
  *lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  *hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}

// The Philox words of 8 counters (j + first .. j + first + 7) side by side.
__attribute__((target("avx2"))) inline void Philox256(uint64_t j, int first, const MaskParams& m, __m256i words[4]) {
  const __m256i lanes = _mm256_setr_epi32(first, first + 1, first + 2, first + 3, first + 4, first + 5, first + 6, first + 7);
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(kM0)), m1 = _mm256_set1_epi32(static_cast<int>(kM1));
  __m256i c0 = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(j))), lanes);
  __m256i c1 = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(j >> 32)));
  __m256i c2 = _mm256_setzero_si256(), c3 = _mm256_setzero_si256();
  uint32_t k0 = m.k0, k1 = m.k1;
  for (int r = 0; r < 10; r++) {
    if (r > 0) {
      k0 += kW0;
      k1 += kW1;
    }
    __m256i hi0, lo0, hi1, lo1;
    MulHiLo256(c0, m0, &hi0, &lo0);
    MulHiLo256(c2, m1, &hi1, &lo1);
    c0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32(static_cast<int>(k0)));
    c1 = lo1;
    c2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32(static_cast<int>(k1)));
    c3 = lo0;
  }
  words[0] = c0;
  words[1] = c1;
  words[2] = c2;
  words[3] = c3;
}

// Blocks [begin, end) with AVX2: each block's 16 counters as two vectors of 8; kept where word < threshold (unsigned,
// compared as signed after flipping the top bit).
template <bool kBf16>
__attribute__((target("avx2"))) void BlocksAvx2(void* out, int64_t begin, int64_t end, const MaskParams& m) {
  const __m256i flip = _mm256_set1_epi32(static_cast<int>(0x80000000u));
  const __m256i threshold = _mm256_xor_si256(_mm256_set1_epi32(static_cast<int>(m.threshold)), flip);
  uint32_t scaleBits;
  std::memcpy(&scaleBits, &m.scale, sizeof scaleBits);
  const __m256i value = _mm256_set1_epi32(kBf16 ? static_cast<int>(m.scaleBf16) : static_cast<int>(scaleBits));
  for (int64_t b = begin; b < end; b++) {
    const uint64_t j = static_cast<uint64_t>(16 * b);
    __m256i lo[4], hi[4];  // counters 0-7 and 8-15 of the block
    Philox256(j, 0, m, lo);
    Philox256(j, 8, m, hi);
    for (int w = 0; w < 4; w++) {
      const __m256i keptLo = _mm256_cmpgt_epi32(threshold, _mm256_xor_si256(lo[w], flip));
      const __m256i keptHi = _mm256_cmpgt_epi32(threshold, _mm256_xor_si256(hi[w], flip));
      const __m256i a = _mm256_and_si256(keptLo, value), c = _mm256_and_si256(keptHi, value);
      const int64_t at = b * kBlock + 16 * w;
      if constexpr (kBf16) {
        // packus interleaves 128-bit halves (a0-3 c0-3 a4-7 c4-7); the permute puts them back in order
        const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(a, c), 0xD8);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(static_cast<uint16_t*>(out) + at), packed);
      } else {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(static_cast<float*>(out) + at), a);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(static_cast<float*>(out) + at + 8), c);
      }
    }
  }
}

enum class Loop { kAvx512, kAvx2, kGeneric };

// STREAMNEST_DROPOUT_KERNEL: "avx2" or "generic" picks that loop on a CPU that has wider vectors (tests,
// comparisons); unset or anything else: the widest this CPU runs.
Loop ChooseLoop() {
  const char* want = std::getenv("STREAMNEST_DROPOUT_KERNEL");
  const std::string w = want ? want : "";
  if (w == "generic") return Loop::kGeneric;
  __builtin_cpu_init();
  if (w != "avx2" && __builtin_cpu_supports("avx512f")) return Loop::kAvx512;
  return __builtin_cpu_supports("avx2") ? Loop::kAvx2 : Loop::kGeneric;
}

#else

enum class Loop { kGeneric };
Loop ChooseLoop() { return Loop::kGeneric; }

#endif

Loop TheLoop() {
  static const Loop loop = ChooseLoop();
  return loop;
}

template <typename Out, bool kBf16>
void Fill(Out* y, int64_t n, const MaskParams& m) {
  const Loop loop = TheLoop();
  at::parallel_for(0, n / kBlock, 256, [&](int64_t begin, int64_t end) {
    switch (loop) {
#if defined(__x86_64__)
      case Loop::kAvx512: Blocks512<kBf16>(y, begin, end, m); return;
      case Loop::kAvx2: BlocksAvx2<kBf16>(y, begin, end, m); return;
#endif
      case Loop::kGeneric: BlocksGeneric(y, begin, end, m); return;
    }
  });
  Tail(y, n, m);
}

}  // namespace

at::Tensor DropoutMask(at::IntArrayRef shape, at::ScalarType dtype, uint64_t seed, double keep) {
  if (dtype != at::kFloat && dtype != at::kBFloat16) return {};
  TORCH_CHECK(keep > 0.0 && keep < 1.0, "dropoutMask: keep probability must be in (0, 1), got ", keep);
  at::Tensor y = at::empty(shape, at::TensorOptions().dtype(dtype));
  MaskParams m;
  m.k0 = static_cast<uint32_t>(seed);
  m.k1 = static_cast<uint32_t>(seed >> 32);
  m.threshold = static_cast<uint32_t>(std::min(std::llround(keep * 4294967296.0), 4294967295LL));
  m.scale = 1.0f / static_cast<float>(keep);  // what ATen's division of a 0/1 mask by keep gives
  const c10::BFloat16 sb(m.scale);            // rounded to nearest even, as ATen rounds
  std::memcpy(&m.scaleBf16, &sb, sizeof m.scaleBf16);
  if (dtype == at::kFloat) {
    Fill<float, false>(y.data_ptr<float>(), y.numel(), m);
  } else {
    Fill<uint16_t, true>(reinterpret_cast<uint16_t*>(y.data_ptr<at::BFloat16>()), y.numel(), m);
  }
  return y;
}

const char* DropoutMaskKernel() {
  switch (TheLoop()) {
#if defined(__x86_64__)
    case Loop::kAvx512: return "avx512";
    case Loop::kAvx2: return "avx2";
#endif
    case Loop::kGeneric: break;
  }
  return "generic";
}

}  // namespace streamnest
