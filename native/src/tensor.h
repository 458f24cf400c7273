// Tensor handles. The addon keeps libtorch tensors in a slot table; JavaScript holds a handle: a BigInt that encodes
// the slot, the slot's generation and the table's environment. dispose() empties the slot at once (the storage is freed
// when its last reference, graph or view, goes) and bumps the generation, so a stale handle is detected. Nothing native
// waits for V8's garbage collector; src/torch/tensor.ts releases, through a FinalizationRegistry, the slot of a Tensor
// collected without dispose (a safety net). Why a BigInt: creating one costs an allocation in V8's young generation
// and nothing else, and it cannot be mistaken for a number argument; an External (Node 20 gives each one a weak
// reference) or an ObjectWrap (a JS object, a reference and a finalizer) costs several times more per operator call.
#pragma once

#include <napi.h>
#include <torch/torch.h>

#include <atomic>
#include <vector>

namespace streamnest {

// Live handles over all environments (main thread and workers): created and not yet released.
extern std::atomic<int64_t> g_live_tensors;

// One environment's tensors. Each environment (the main thread, each worker thread) loads the addon separately and has
// its own table, used only from its JavaScript thread, so no lock is needed. A handle carries its table's tag, so one
// posted to another thread is refused there rather than taken for another tensor.
class TensorTable {
 public:
  TensorTable();
  TensorTable(const TensorTable&) = delete;
  TensorTable& operator=(const TensorTable&) = delete;
  ~TensorTable();

  // A new handle to t (JavaScript null for an undefined tensor).
  napi_value Put(napi_env env, at::Tensor t);
  // The tensor behind handle v, or nullptr when v is no live handle. Valid until the next Put.
  at::Tensor* Find(napi_env env, napi_value v);
  // Empties v's slot; false when v was no live handle.
  bool Release(napi_env env, napi_value v);
  // Why v is no live handle of this table (for an error message).
  const char* Problem(napi_env env, napi_value v);

 private:
  struct Slot {
    at::Tensor tensor;
    uint32_t generation = 1;  // bumped when the slot is emptied
  };
  Slot* Live(napi_env env, napi_value v, uint32_t* index);
  uint32_t tag_;  // this environment's number, modulo 256
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
};

// Per-environment data, deleted with the environment (its table then releases the tensors still held).
struct AddonData {
  TensorTable tensors;
  Napi::FunctionReference generatorCtor;
};
AddonData& Data(Napi::Env env);

// A handle to t (null for an undefined tensor).
Napi::Value WrapTensor(Napi::Env env, at::Tensor t);
// The tensor behind handle v, or nullptr when v is no live handle.
at::Tensor* FindTensor(const Napi::Value& v);
// Throws "<what>: expected a tensor" (a TypeError) or "<what>: tensor was already disposed": why v is no live handle.
[[noreturn]] void ThrowNotTensor(const Napi::Value& v, const std::string& what);
// The tensor behind handle v, or the error above.
at::Tensor& UnwrapTensor(const Napi::Value& v, const char* what);

// tensorShape(handle), tensorDispose(handle), ...: the per-tensor functions.
void InitTensors(Napi::Env env, Napi::Object exports);

// dtype names shared with TypeScript: "float32" | "float64" | "int64" | "int32" | "bool" | ...
at::ScalarType ParseDtype(Napi::Env env, const std::string& name);
std::string DtypeName(at::ScalarType t);

}  // namespace streamnest
