#pragma once
#include <napi.h>

namespace streamnest {
void InitDispatch(Napi::Env env, Napi::Object exports);
}
