#pragma once
#include <napi.h>

namespace streamnest {
// Registers NativeProcessGroup when libtorch was built with distributed support (USE_DISTRIBUTED).
void InitDistributed(Napi::Env env, Napi::Object exports);
}
