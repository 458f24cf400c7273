// A seeded random-number generator object that TypeScript passes to random ops explicitly.
#pragma once
#include <napi.h>
#include <torch/torch.h>

namespace streamnest {

class GeneratorWrap : public Napi::ObjectWrap<GeneratorWrap> {
 public:
  static Napi::Function Init(Napi::Env env);
  static at::Generator FromValue(const Napi::Value& v);
  explicit GeneratorWrap(const Napi::CallbackInfo& info);

  at::Generator gen;

 private:
  Napi::Value Seed(const Napi::CallbackInfo& info);
  Napi::Value GetState(const Napi::CallbackInfo& info);
  Napi::Value SetState(const Napi::CallbackInfo& info);
  Napi::Value RandomUint64(const Napi::CallbackInfo& info);
};

}  // namespace streamnest
