#pragma once
#include <napi.h>

namespace streamnest {
void InitAutocast(Napi::Env env, Napi::Object exports);
}
