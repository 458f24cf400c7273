// Dropout masks from a counter-based generator (Philox4x32-10, Salmon et al. 2011, "Parallel random numbers: as easy
// as 1, 2, 3"; the generator PyTorch's CUDA dropout draws from). Why our own: the masks of a training step with a
// generator of its own took ATen 1.13's rand (mt19937, one element at a time: 2.75 ns per element), a comparison, a
// cast and a division, 320 ms of a 1.0 s bf16 encoder forward at NEST-Small's training shapes (113 dropouts, 75 M
// elements; BENCHMARKS.md "Mixed precision"). Here one pass writes the scaled mask; the draws of 16 counters run side
// by side in AVX-512 lanes where the CPU has them.
//
// Element mapping (the same in every loop): the elements are taken in blocks of 64; element e of block b = e / 64 is
// word w = (e % 64) / 16 of the Philox output for counter j = 16 b + e % 16, with counter words (lo32(j), hi32(j), 0, 0)
// and key (lo32(seed), hi32(seed)). It is kept when that word is below round(keep * 2^32) (clamped to 2^32 - 1).
#include "dropout-mask.h"

#include <ATen/Parallel.h>

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

// The four 32-bit words of Philox4x32-10 for counter j (words lo32(j), hi32(j), 0, 0) and key (k0, k1).
inline void Philox(uint64_t j, uint32_t k0, uint32_t k1, uint32_t out[4]) {
  uint32_t c0 = static_cast<uint32_t>(j), c1 = static_cast<uint32_t>(j >> 32), c2 = 0, c3 = 0;
  for (int r = 0; r < 10; r++) {
    if (r > 0) {
      k0 += kW0;
      k1 += kW1;
    }
    const uint64_t p0 = static_cast<uint64_t>(kM0) * c0, p1 = static_cast<uint64_t>(kM1) * c2;
    const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1 ^ k0, n2 = static_cast<uint32_t>(p0 >> 32) ^ c3 ^ k1;
    c0 = n0;
    c1 = static_cast<uint32_t>(p1);
    c2 = n2;
    c3 = static_cast<uint32_t>(p0);
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

struct MaskParams {
  uint32_t k0, k1, threshold;
  float scale;          // float32 mask value where kept
  uint16_t scaleBf16;   // its bfloat16 bits
};

// Elements [begin, end) of the mask, one at a time (the tail, and CPUs without AVX-512).
template <typename Out>
void ScalarRange(Out* y, int64_t begin, int64_t end, const MaskParams& m) {
  uint32_t words[4];
  uint64_t have = UINT64_MAX;  // the counter whose words are in `words`
  for (int64_t e = begin; e < end; e++) {
    const int64_t b = e / kBlock, r = e % kBlock;
    const uint64_t j = static_cast<uint64_t>(16 * b + r % 16);
    if (j != have) {
      Philox(j, m.k0, m.k1, words);
      have = j;
    }
    const bool kept = words[r / 16] < m.threshold;
    if constexpr (sizeof(Out) == 4) {
      y[e] = kept ? m.scale : 0.0f;
    } else {
      y[e] = kept ? m.scaleBf16 : 0;
    }
  }
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

bool UseAvx512() {
  const char* want = std::getenv("STREAMNEST_DROPOUT_KERNEL");
  if (want && std::string(want) == "scalar") return false;
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f");
}

#else

bool UseAvx512() { return false; }

#endif

bool Avx512() {
  static const bool on = UseAvx512();
  return on;
}

template <typename Out, bool kBf16>
void Fill(Out* y, int64_t n, const MaskParams& m) {
  const int64_t blocks = n / kBlock;
  at::parallel_for(0, blocks, 256, [&](int64_t begin, int64_t end) {
#if defined(__x86_64__)
    if (Avx512()) {
      Blocks512<kBf16>(y, begin, end, m);
      return;
    }
#endif
    ScalarRange(y, begin * kBlock, end * kBlock, m);
  });
  ScalarRange(y, blocks * kBlock, n, m);
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

const char* DropoutMaskKernel() { return Avx512() ? "avx512" : "scalar"; }

}  // namespace streamnest
