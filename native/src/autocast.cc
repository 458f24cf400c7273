// Thread-local autocast state (torch.autocast's C++ side: at::autocast). Enabling it puts the AutocastCPU/AutocastCUDA
// keys in the thread's dispatch key set, so every operator called through the boxed dispatcher (dispatch.cc) passes
// through PyTorch's autocast kernels: matmul/linear/conv in the lower precision, the fp32-listed ops in float32.
#include "autocast.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include "tensor.h"

// libtorch 2.4 replaced the per-device setters (set_cpu_enabled, set_autocast_cpu_dtype, ...) by device-typed ones.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define STREAMNEST_AUTOCAST_DEVICE_TYPED 1
#else
#define STREAMNEST_AUTOCAST_DEVICE_TYPED 0
#endif

namespace streamnest {

namespace {

bool ParseCuda(const Napi::Value& v) {
  std::string d = v.As<Napi::String>().Utf8Value();
  if (d == "cpu") return false;
  if (d == "cuda") return true;
  throw Napi::TypeError::New(v.Env(), "autocast: device must be 'cpu' or 'cuda', got '" + d + "'");
}

bool IsEnabled(bool cuda) {
#if STREAMNEST_AUTOCAST_DEVICE_TYPED
  return at::autocast::is_autocast_enabled(cuda ? at::kCUDA : at::kCPU);
#else
  return cuda ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}

at::ScalarType GetDtype(bool cuda) {
#if STREAMNEST_AUTOCAST_DEVICE_TYPED
  return at::autocast::get_autocast_dtype(cuda ? at::kCUDA : at::kCPU);
#else
  return cuda ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
#endif
}

void SetState(bool cuda, bool enabled, at::ScalarType dtype) {
#if STREAMNEST_AUTOCAST_DEVICE_TYPED
  at::DeviceType dev = cuda ? at::kCUDA : at::kCPU;
  at::autocast::set_autocast_enabled(dev, enabled);
  at::autocast::set_autocast_dtype(dev, dtype);
#else
  if (cuda) {
    at::autocast::set_enabled(enabled);
    at::autocast::set_autocast_gpu_dtype(dtype);
  } else {
    at::autocast::set_cpu_enabled(enabled);
    at::autocast::set_autocast_cpu_dtype(dtype);
  }
#endif
}

// autocastState(device) -> { enabled, dtype }
Napi::Value AutocastState(const Napi::CallbackInfo& info) {
  bool cuda = ParseCuda(info[0]);
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("enabled", Napi::Boolean::New(info.Env(), IsEnabled(cuda)));
  out.Set("dtype", Napi::String::New(info.Env(), DtypeName(GetDtype(cuda))));
  return out;
}

// setAutocastState(device, enabled, dtype)
Napi::Value SetAutocastState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool cuda = ParseCuda(info[0]);
  at::ScalarType dt = ParseDtype(env, info[2].As<Napi::String>().Utf8Value());
  if (dt != at::kBFloat16 && dt != at::kHalf) {
    throw Napi::TypeError::New(env, "autocast: dtype must be bfloat16 or float16, got " + DtypeName(dt));
  }
  SetState(cuda, info[1].ToBoolean().Value(), dt);
  return env.Undefined();
}

// The nesting count decides when the cache of lower-precision weight copies is dropped (at the outermost exit).
Napi::Value AutocastEnter(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::autocast::increment_nesting());
}

// autocastExit() -> remaining nesting; clears the cast cache when it reaches 0.
Napi::Value AutocastExit(const Napi::CallbackInfo& info) {
  int level = at::autocast::decrement_nesting();
  if (level == 0) at::autocast::clear_cache();
  return Napi::Number::New(info.Env(), level);
}

}  // namespace

void InitAutocast(Napi::Env env, Napi::Object exports) {
  exports.Set("autocastState", Napi::Function::New(env, AutocastState));
  exports.Set("setAutocastState", Napi::Function::New(env, SetAutocastState));
  exports.Set("autocastEnter", Napi::Function::New(env, AutocastEnter));
  exports.Set("autocastExit", Napi::Function::New(env, AutocastExit));
}

}  // namespace streamnest
