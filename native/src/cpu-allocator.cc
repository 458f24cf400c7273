// A bounded cache of freed CPU blocks (64 KiB and larger) in front of libtorch's CPU allocator.
//
// Why: glibc hands large blocks back to the kernel (mmap'd above its threshold, or trimmed from the heap top) and the
// next tensor of that size faults its pages in again (about 66 faults per 270 KiB block, measured), so a cache-aware
// streaming step or a training step spends more time in the kernel than in maths. Keeping freed large blocks by size
// class and handing them out again removes that. (It was first written when every tensor handle also owned a native
// wrapper that lived until V8 collected it and fragmented the heap; handles are plain values now, native/src/tensor.h,
// and the transformer_step loop still takes about 2,000 faults per step without the cache against 20 with it.) Small
// blocks are allocated and freed as libtorch's allocator does (64-byte aligned).
//
// The bound: max(STREAMNEST_CPU_CACHE_MB, min(the working set, 2 x the peak of large blocks live at once)). The
// working set is, summed over size classes, the most blocks of that class that were live at once: what a repeating
// step needs so that it never misses. The live peak alone is not enough, because classes peak at different times (the
// forward pass's activations, then the backward pass's gradients): a NEST-Small float32 training step (B=8 x 16 s)
// peaks at 2.4 GB live but has a working set of 3.8 GB, and with the cache bounded by the peak it missed 279 times and
// faulted in 0.9 GB of fresh pages per step, a third of its time (BENCHMARKS.md, "Mixed precision"). Batches of other
// lengths grow the working set by their own classes, hence the cap at twice the peak (the process then holds at most
// three times its own peak); a miss is also served from a cached block up to twice the size asked for, so nearby
// lengths share blocks. A workload that frees and reallocates more than a fixed bound per step (64 batched streams of
// 12 s: about 700 MB of caches per step) would otherwise hand the excess back to malloc at every step: measured, 9.3
// million page faults, a peak RSS of 23.7 GB and 105 ms per stream at 32 streams, against 0.74 million faults, 3.0 GB
// and 9 ms with the bound above the step's volume.
#include "cpu-allocator.h"

#include <c10/core/Allocator.h>
#include <torch/version.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <map>
#include <vector>

// c10::Allocator::allocate lost its const in PyTorch 2.3, which also made copy_data pure virtual.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
#define STREAMNEST_ALLOCATE_CONST
#else
#define STREAMNEST_ALLOCATE_CONST const
#endif

namespace streamnest {
namespace {

constexpr size_t kMinCached = 64 * 1024;  // smaller blocks: libtorch's allocator
constexpr size_t kHeader = 64;            // keeps the data 64-byte aligned; holds the block's classes
constexpr size_t kMaxOversize = 2;        // a miss may take a cached block up to this many times its class

/** Rounds up to one of 8 classes per power of two (at most 12.5% slack), so similar shapes share blocks. */
size_t SizeClass(size_t n) {
  size_t p = 1;
  while ((p << 1) <= n) p <<= 1;
  const size_t step = p / 8;
  return (n + step - 1) / step * step;
}

/** The header in front of every block: the class the block was allocated as (its size; 0: not cached) and the class
 * that was asked for when it was handed out (counted in the working set). */
struct BlockHeader {
  size_t cls;
  size_t asked;
};
static_assert(sizeof(BlockHeader) <= kHeader, "the header fits in front of the 64-byte aligned data");

class CachingCpuAllocator final : public c10::Allocator {
 public:
  explicit CachingCpuAllocator(size_t limit) : limit_(limit) {}

  // The data pointer is also the deleter's context, as raw_allocate / raw_deallocate users (oneDNN) require.
  c10::DataPtr allocate(size_t n) STREAMNEST_ALLOCATE_CONST override {
    if (n == 0) return {nullptr, nullptr, &CachingCpuAllocator::Delete, c10::Device(c10::DeviceType::CPU)};
    const size_t asked = n < kMinCached ? 0 : SizeClass(n);
    void* block = asked ? TakeCached(asked) : nullptr;
    if (!block) {
      if (posix_memalign(&block, kHeader, (asked ? asked : n) + kHeader) != 0 || !block) throw std::bad_alloc();
      *static_cast<BlockHeader*>(block) = {asked, asked};
    }
    void* data = static_cast<char*>(block) + kHeader;
    return {data, data, &CachingCpuAllocator::Delete, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &CachingCpuAllocator::Delete; }

  // PyTorch >= 2.3 (pure virtual there); an ordinary member before.
  void copy_data(void* dest, const void* src, std::size_t count) const { std::memcpy(dest, src, count); }

  static void Delete(void* data) {
    if (!data) return;
    instance_->Release(static_cast<char*>(data) - kHeader);
  }

  void Release(void* block) {
    const BlockHeader h = *static_cast<BlockHeader*>(block);
    if (h.cls) {
      std::lock_guard<std::mutex> lock(mu_);
      live_ -= h.cls;
      free_[h.asked].live--;
      const size_t limit = Bound();
      if (h.cls <= limit) {
        // Make room by freeing cached blocks of the classes used least recently (blocks of shapes a workload has
        // moved on from, such as a stream's first step, go first; the classes of its steady steps stay).
        while (cached_ + h.cls > limit && EvictLeastRecent()) {
        }
        if (cached_ + h.cls <= limit) {
          Bucket& b = free_[h.cls];
          b.blocks.push_back(block);
          b.lastUse = ++tick_;
          cached_ += h.cls;
          return;
        }
      }
    }
    std::free(block);
  }

  /** Frees every cached block and forgets the live peak and the working set (the bound falls back to what is live
   * now, at least the floor). */
  void Trim() {
    std::lock_guard<std::mutex> lock(mu_);
    workingSet_ = 0;
    for (auto& [cls, bucket] : free_) {
      for (void* b : bucket.blocks) std::free(b);
      bucket.blocks.clear();
      bucket.maxLive = bucket.live;
      workingSet_ += cls * bucket.live;
    }
    cached_ = 0;
    peak_ = live_;
  }

  Napi::Object Stats(Napi::Env env) {
    std::lock_guard<std::mutex> lock(mu_);
    Napi::Object o = Napi::Object::New(env);
    o.Set("enabled", Napi::Boolean::New(env, true));
    o.Set("cachedBytes", Napi::Number::New(env, static_cast<double>(cached_)));
    o.Set("limitBytes", Napi::Number::New(env, static_cast<double>(limit_)));
    o.Set("boundBytes", Napi::Number::New(env, static_cast<double>(Bound())));
    o.Set("liveBytes", Napi::Number::New(env, static_cast<double>(live_)));
    o.Set("peakLiveBytes", Napi::Number::New(env, static_cast<double>(peak_)));
    o.Set("workingSetBytes", Napi::Number::New(env, static_cast<double>(workingSet_)));
    o.Set("hits", Napi::Number::New(env, static_cast<double>(hits_)));
    o.Set("misses", Napi::Number::New(env, static_cast<double>(misses_)));
    return o;
  }

  static CachingCpuAllocator* instance_;

 private:
  struct Bucket {
    std::vector<void*> blocks;  // cached blocks of this class
    size_t lastUse = 0;         // tick_ of the last allocation or release of this class
    size_t live = 0;            // blocks asked for as this class and not yet released
    size_t maxLive = 0;         // the most that were live at once
  };

  /** The cache's bound (caller holds mu_). */
  size_t Bound() const {
    const size_t needed = workingSet_ < 2 * peak_ ? workingSet_ : 2 * peak_;
    return limit_ > needed ? limit_ : needed;
  }

  /** Counts a block of class `asked` as live and returns a cached block of that class, or failing that the smallest
   * cached one up to kMaxOversize times larger; nullptr (a miss, counted as live) when there is none. */
  void* TakeCached(size_t asked) STREAMNEST_ALLOCATE_CONST {
    std::lock_guard<std::mutex> lock(mu_);
    Bucket& wanted = free_[asked];
    wanted.lastUse = ++tick_;
    if (++wanted.live > wanted.maxLive) {
      wanted.maxLive = wanted.live;
      workingSet_ += asked;
    }
    for (auto it = free_.find(asked); it != free_.end() && it->first <= kMaxOversize * asked; ++it) {
      if (it->second.blocks.empty()) continue;
      void* block = it->second.blocks.back();
      it->second.blocks.pop_back();
      it->second.lastUse = tick_;
      cached_ -= it->first;
      live_ += it->first;
      if (live_ > peak_) peak_ = live_;
      hits_++;
      static_cast<BlockHeader*>(block)->asked = asked;
      return block;
    }
    misses_++;
    live_ += asked;
    if (live_ > peak_) peak_ = live_;
    return nullptr;
  }

  /** Frees one cached block of the least recently used non-empty class (caller holds mu_); false when none is cached. */
  bool EvictLeastRecent() {
    Bucket* oldest = nullptr;
    size_t oldestCls = 0;
    for (auto& [c, b] : free_) {
      if (!b.blocks.empty() && (!oldest || b.lastUse < oldest->lastUse)) {
        oldest = &b;
        oldestCls = c;
      }
    }
    if (!oldest) return false;
    std::free(oldest->blocks.back());
    oldest->blocks.pop_back();
    cached_ -= oldestCls;
    return true;
  }

  const size_t limit_;
  mutable std::mutex mu_;
  mutable std::map<size_t, Bucket> free_;  // by class, ordered so that a miss can look at the next larger classes
  mutable size_t tick_ = 0;
  mutable size_t cached_ = 0;
  mutable size_t hits_ = 0;
  mutable size_t misses_ = 0;
  mutable size_t live_ = 0;        // bytes of cached-class blocks handed out and not yet released
  mutable size_t peak_ = 0;        // the most live_ has been
  mutable size_t workingSet_ = 0;  // sum over classes of class x maxLive
};

CachingCpuAllocator* CachingCpuAllocator::instance_ = nullptr;

Napi::Value CpuAllocatorStats(const Napi::CallbackInfo& info) {
  if (!CachingCpuAllocator::instance_) {
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("enabled", Napi::Boolean::New(info.Env(), false));
    return o;
  }
  return CachingCpuAllocator::instance_->Stats(info.Env());
}

Napi::Value CpuAllocatorTrim(const Napi::CallbackInfo& info) {
  if (CachingCpuAllocator::instance_) CachingCpuAllocator::instance_->Trim();
  return info.Env().Undefined();
}

}  // namespace

void InitCpuAllocator(Napi::Env env, Napi::Object exports) {
  // One allocator per process (the addon may be loaded by several worker threads: install once, never free).
  static std::once_flag once;
  std::call_once(once, [] {
    size_t limitMb = 512;
    if (const char* s = std::getenv("STREAMNEST_CPU_CACHE_MB")) limitMb = static_cast<size_t>(std::strtoull(s, nullptr, 10));
    if (limitMb == 0) return;
    CachingCpuAllocator::instance_ = new CachingCpuAllocator(limitMb << 20);
    c10::SetAllocator(c10::DeviceType::CPU, CachingCpuAllocator::instance_, /*priority=*/1);
  });
  exports.Set("cpuAllocatorStats", Napi::Function::New(env, CpuAllocatorStats));
  exports.Set("cpuAllocatorTrim", Napi::Function::New(env, CpuAllocatorTrim));
}

}  // namespace streamnest
