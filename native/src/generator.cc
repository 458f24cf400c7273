#include "generator.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cstring>
#include <mutex>

#include "tensor.h"

namespace streamnest {

Napi::Function GeneratorWrap::Init(Napi::Env env) {
  Napi::Function f = DefineClass(env, "NativeGenerator",
                                 {
                                     InstanceMethod("seed", &GeneratorWrap::Seed),
                                     InstanceMethod("getState", &GeneratorWrap::GetState),
                                     InstanceMethod("setState", &GeneratorWrap::SetState),
                                     InstanceMethod("randomUint64", &GeneratorWrap::RandomUint64),
                                 });
  Data(env).generatorCtor = Napi::Persistent(f);
  return f;
}

// new NativeGenerator(seed) — a CPU Philox/MT generator seeded exactly as torch.Generator().manual_seed(seed).
GeneratorWrap::GeneratorWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<GeneratorWrap>(info) {
  uint64_t seed = 0;
  if (info.Length() > 0 && info[0].IsNumber()) seed = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
  gen = at::make_generator<at::CPUGeneratorImpl>(seed);
}

at::Generator GeneratorWrap::FromValue(const Napi::Value& v) {
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(Data(v.Env()).generatorCtor.Value())) {
    throw Napi::TypeError::New(v.Env(), "expected a Generator");
  }
  return Napi::ObjectWrap<GeneratorWrap>::Unwrap(v.As<Napi::Object>())->gen;
}

Napi::Value GeneratorWrap::Seed(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_current_seed(static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value()));
  return info.Env().Undefined();
}

// The full generator state as a uint8 tensor (same bytes as torch.Generator.get_state()).
Napi::Value GeneratorWrap::GetState(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(gen.mutex());
  at::Tensor st = gen.get_state();
  return WrapTensor(info.Env(), st);
}

Napi::Value GeneratorWrap::SetState(const Napi::CallbackInfo& info) {
  at::Tensor st = UnwrapTensor(info[0], "Generator.setState");
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(st);
  return info.Env().Undefined();
}

// randomUint64() -> bigint: the generator's next 64-bit draw (CPUGeneratorImpl::random64), advancing its state.
Napi::Value GeneratorWrap::RandomUint64(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(gen.mutex());
  return Napi::BigInt::New(info.Env(), gen.get<at::CPUGeneratorImpl>()->random64());
}

}  // namespace streamnest
