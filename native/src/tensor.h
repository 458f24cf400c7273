// The JS wrapper around one at::Tensor handle. Disposing it drops this handle's
// reference; the storage is freed when the last reference (graph, views) goes.
#pragma once

#include <napi.h>
#include <torch/torch.h>

#include <atomic>

namespace streamnest {

// Per-environment data (main thread and each worker thread load the addon separately).
struct AddonData {
  Napi::FunctionReference tensorCtor;
  Napi::FunctionReference generatorCtor;
};
AddonData& Data(Napi::Env env);

// Live wrapper count: handles created and not yet disposed or finalised.
extern std::atomic<int64_t> g_live_tensors;

class TensorWrap : public Napi::ObjectWrap<TensorWrap> {
 public:
  static Napi::Function Init(Napi::Env env);
  static Napi::Value Wrap(Napi::Env env, at::Tensor t);
  static bool Is(const Napi::Value& v);
  static at::Tensor& FromValue(const Napi::Value& v, const char* what);

  explicit TensorWrap(const Napi::CallbackInfo& info);
  ~TensorWrap() override;

  at::Tensor tensor;
  bool live = false;

 private:
  void Release();
  at::Tensor& Checked(Napi::Env env);

  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value IsDisposed(const Napi::CallbackInfo& info);
  Napi::Value Shape(const Napi::CallbackInfo& info);
  Napi::Value Strides(const Napi::CallbackInfo& info);
  Napi::Value Dtype(const Napi::CallbackInfo& info);
  Napi::Value Device(const Napi::CallbackInfo& info);
  Napi::Value Numel(const Napi::CallbackInfo& info);
  Napi::Value RequiresGrad(const Napi::CallbackInfo& info);
  Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info);
  Napi::Value IsLeaf(const Napi::CallbackInfo& info);
  Napi::Value Grad(const Napi::CallbackInfo& info);
  Napi::Value SetGrad(const Napi::CallbackInfo& info);
  Napi::Value Backward(const Napi::CallbackInfo& info);
  Napi::Value Item(const Napi::CallbackInfo& info);
  Napi::Value ToBuffer(const Napi::CallbackInfo& info);
  Napi::Value SameStorage(const Napi::CallbackInfo& info);
  Napi::Value Assign(const Napi::CallbackInfo& info);
  Napi::Value BytesView(const Napi::CallbackInfo& info);
  Napi::Value Nbytes(const Napi::CallbackInfo& info);
};

// dtype names shared with TypeScript: "float32" | "float64" | "int64" | "int32" | "bool" | ...
at::ScalarType ParseDtype(Napi::Env env, const std::string& name);
std::string DtypeName(at::ScalarType t);

}  // namespace streamnest
