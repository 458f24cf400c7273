#pragma once
#include <napi.h>

namespace streamnest {
void InitRuntime(Napi::Env env, Napi::Object exports);
}
