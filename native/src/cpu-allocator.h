#pragma once
#include <napi.h>

namespace streamnest {
// Installs the caching CPU allocator (see cpu-allocator.cc) unless STREAMNEST_CPU_CACHE_MB=0, and exports its stats.
void InitCpuAllocator(Napi::Env env, Napi::Object exports);
}
