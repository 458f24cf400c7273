// A bounded cache of freed CPU blocks (64 KiB and larger) in front of libtorch's CPU allocator.
//
// Why: every tensor handed to JavaScript owns a small native wrapper that lives until V8 collects it, long after the
// tensor's data was freed by dispose(). Those small blocks land in the holes freed tensors leave in the malloc heap,
// so the next large tensor of the same size rarely fits a hole: the heap grows, fresh pages are faulted in (about 66
// faults per 270 KiB block, measured), and a cache-aware streaming step spends more time in the kernel than in maths.
// Keeping freed large blocks by size class and handing them out again removes that (PyTorch does not need this: CPython
// frees its wrappers at once). Small blocks are allocated and freed as libtorch's allocator does (64-byte aligned).
//
// The bound: at most max(STREAMNEST_CPU_CACHE_MB, the peak of large blocks live at once). A workload that frees and
// reallocates more than a fixed bound per step (64 batched streams of 12 s: about 700 MB of caches per step) would
// otherwise hand the excess back to malloc at every step: measured, 9.3 million page faults, a peak RSS of 23.7 GB and
// 105 ms per stream at 32 streams, against 0.74 million faults, 3.0 GB and 9 ms with the bound above the step's
// volume. Since a step frees at most what it had live, caching up to the live peak makes steady steps allocation-free,
// and the process never holds more than twice its own peak.
#include "cpu-allocator.h"

#include <c10/core/Allocator.h>
#include <torch/version.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>
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
constexpr size_t kHeader = 64;            // keeps the data 64-byte aligned; holds the block's size class

/** Rounds up to one of 8 classes per power of two (at most 12.5% slack), so similar shapes share blocks. */
size_t SizeClass(size_t n) {
  size_t p = 1;
  while ((p << 1) <= n) p <<= 1;
  const size_t step = p / 8;
  return (n + step - 1) / step * step;
}

class CachingCpuAllocator final : public c10::Allocator {
 public:
  explicit CachingCpuAllocator(size_t limit) : limit_(limit) {}

  // Every block carries a 64-byte header before its data holding its size class (0: not cached), so that the data
  // pointer is also the deleter's context, as raw_allocate / raw_deallocate users (oneDNN) require.
  c10::DataPtr allocate(size_t n) STREAMNEST_ALLOCATE_CONST override {
    if (n == 0) return {nullptr, nullptr, &CachingCpuAllocator::Delete, c10::Device(c10::DeviceType::CPU)};
    const size_t cls = n < kMinCached ? 0 : SizeClass(n);
    void* block = nullptr;
    if (cls) {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = free_.find(cls);
      if (it != free_.end()) it->second.lastUse = ++tick_;
      if (it != free_.end() && !it->second.blocks.empty()) {
        block = it->second.blocks.back();
        it->second.blocks.pop_back();
        cached_ -= cls;
        hits_++;
        live_ += cls;
      } else {
        misses_++;
        live_ += cls;
        if (live_ > peak_) peak_ = live_;
      }
    }
    if (!block) {
      if (posix_memalign(&block, kHeader, (cls ? cls : n) + kHeader) != 0 || !block) throw std::bad_alloc();
      *static_cast<size_t*>(block) = cls;
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
    const size_t cls = *static_cast<size_t*>(block);
    if (cls) {
      std::lock_guard<std::mutex> lock(mu_);
      live_ -= cls;
      const size_t limit = limit_ > peak_ ? limit_ : peak_;
      if (cls <= limit) {
        // Make room by freeing cached blocks of the classes used least recently (blocks of shapes a workload has
        // moved on from, such as a stream's first step, go first; the classes of its steady steps stay).
        while (cached_ + cls > limit && EvictLeastRecent()) {
        }
        if (cached_ + cls <= limit) {
          Bucket& b = free_[cls];
          b.blocks.push_back(block);
          b.lastUse = ++tick_;
          cached_ += cls;
          return;
        }
      }
    }
    std::free(block);
  }

  /** Frees every cached block and forgets the live peak (the bound falls back to what is live now, at least the floor). */
  void Trim() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [cls, bucket] : free_) {
      for (void* b : bucket.blocks) std::free(b);
      bucket.blocks.clear();
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
    o.Set("liveBytes", Napi::Number::New(env, static_cast<double>(live_)));
    o.Set("peakLiveBytes", Napi::Number::New(env, static_cast<double>(peak_)));
    o.Set("hits", Napi::Number::New(env, static_cast<double>(hits_)));
    o.Set("misses", Napi::Number::New(env, static_cast<double>(misses_)));
    return o;
  }

  static CachingCpuAllocator* instance_;

 private:
  struct Bucket {
    std::vector<void*> blocks;
    size_t lastUse = 0;  // tick_ of the last allocation or release of this class
  };

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
  mutable std::unordered_map<size_t, Bucket> free_;
  mutable size_t tick_ = 0;
  mutable size_t cached_ = 0;
  mutable size_t hits_ = 0;
  mutable size_t misses_ = 0;
  mutable size_t live_ = 0;  // bytes of cached-class blocks handed out and not yet released
  mutable size_t peak_ = 0;  // the most live_ has been
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
