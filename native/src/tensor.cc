#include "tensor.h"

#include <cstring>

namespace streamnest {

std::atomic<int64_t> g_live_tensors{0};

AddonData& Data(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

at::ScalarType ParseDtype(Napi::Env env, const std::string& name) {
  if (name == "float32") return at::kFloat;
  if (name == "float64") return at::kDouble;
  if (name == "float16") return at::kHalf;
  if (name == "bfloat16") return at::kBFloat16;
  if (name == "int64") return at::kLong;
  if (name == "int32") return at::kInt;
  if (name == "int16") return at::kShort;
  if (name == "int8") return at::kChar;
  if (name == "uint8") return at::kByte;
  if (name == "bool") return at::kBool;
  throw Napi::TypeError::New(env, "unknown dtype '" + name +
                                      "' (expected float32, float64, float16, bfloat16, int64, int32, "
                                      "int16, int8, uint8 or bool)");
}

std::string DtypeName(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kHalf: return "float16";
    case at::kBFloat16: return "bfloat16";
    case at::kLong: return "int64";
    case at::kInt: return "int32";
    case at::kShort: return "int16";
    case at::kChar: return "int8";
    case at::kByte: return "uint8";
    case at::kBool: return "bool";
    default: return std::string(c10::toString(t));
  }
}

// A handle is the BigInt (generation << 32) | (tag << 24) | slot.
namespace {
constexpr uint32_t kSlotBits = 24;
constexpr uint32_t kMaxSlots = 1u << kSlotBits;
std::atomic<uint32_t> g_tables{0};
constexpr char kNotTensor[] = "expected a tensor";

uint64_t Encode(uint32_t slot, uint32_t tag, uint32_t generation) {
  return (static_cast<uint64_t>(generation) << 32) | (static_cast<uint64_t>(tag) << kSlotBits) | slot;
}

bool Decode(napi_env env, napi_value v, uint64_t* bits) {
  bool lossless;
  return napi_get_value_bigint_uint64(env, v, bits, &lossless) == napi_ok && lossless;
}
}  // namespace

TensorTable::TensorTable() : tag_(g_tables++ & 0xFF) {}

TensorTable::~TensorTable() {
  for (Slot& s : slots_)
    if (s.tensor.defined()) g_live_tensors--;
}

napi_value TensorTable::Put(napi_env env, at::Tensor t) {
  napi_value h;
  if (!t.defined()) {
    napi_get_null(env, &h);
    return h;
  }
  if (free_.empty()) {
    if (slots_.size() >= kMaxSlots) throw Napi::RangeError::New(env, "too many live tensors (2^24 in one thread)");
    free_.push_back(static_cast<uint32_t>(slots_.size()));
    slots_.emplace_back();
  }
  const uint32_t i = free_.back();
  Slot& s = slots_[i];
  if (napi_create_bigint_uint64(env, Encode(i, tag_, s.generation), &h) != napi_ok) {
    throw Napi::Error::New(env, "cannot create a tensor handle");  // the slot stays free
  }
  free_.pop_back();
  s.tensor = std::move(t);
  g_live_tensors++;
  return h;
}

TensorTable::Slot* TensorTable::Live(napi_env env, napi_value v, uint32_t* index) {
  uint64_t bits;
  if (!Decode(env, v, &bits)) return nullptr;
  const uint32_t i = static_cast<uint32_t>(bits) & (kMaxSlots - 1);
  if (i >= slots_.size() || bits != Encode(i, tag_, slots_[i].generation)) return nullptr;
  *index = i;
  return &slots_[i];
}

at::Tensor* TensorTable::Find(napi_env env, napi_value v) {
  uint32_t i;
  Slot* s = Live(env, v, &i);
  return s ? &s->tensor : nullptr;
}

bool TensorTable::Release(napi_env env, napi_value v) {
  uint32_t i;
  Slot* s = Live(env, v, &i);
  if (!s) return false;
  at::Tensor dropped = std::move(s->tensor);  // freed on return, when the table is consistent again
  if (++s->generation == 0) s->generation = 1;
  free_.push_back(i);
  g_live_tensors--;
  return true;
}

const char* TensorTable::Problem(napi_env env, napi_value v) {
  uint64_t bits;
  if (!Decode(env, v, &bits)) return kNotTensor;
  if (((bits >> kSlotBits) & 0xFF) != tag_) return "tensor belongs to another thread";
  return "tensor was already disposed";
}

Napi::Value WrapTensor(Napi::Env env, at::Tensor t) { return Napi::Value(env, Data(env).tensors.Put(env, std::move(t))); }

at::Tensor* FindTensor(const Napi::Value& v) { return Data(v.Env()).tensors.Find(v.Env(), v); }

void ThrowNotTensor(const Napi::Value& v, const std::string& what) {
  const char* problem = Data(v.Env()).tensors.Problem(v.Env(), v);
  if (problem == kNotTensor) throw Napi::TypeError::New(v.Env(), what + ": " + problem);
  throw Napi::Error::New(v.Env(), what + ": " + problem);
}

at::Tensor& UnwrapTensor(const Napi::Value& v, const char* what) {
  at::Tensor* t = FindTensor(v);
  if (t == nullptr) ThrowNotTensor(v, what);
  return *t;
}

namespace {

// The tensor behind the first argument of a tensor function, named in the error.
at::Tensor& Self(const Napi::CallbackInfo& info, const char* what) { return UnwrapTensor(info[0], what); }

Napi::Array IntArray(Napi::Env env, c10::IntArrayRef xs) {
  Napi::Array a = Napi::Array::New(env, xs.size());
  for (size_t i = 0; i < xs.size(); i++) a.Set(i, Napi::Number::New(env, static_cast<double>(xs[i])));
  return a;
}

// tensorDispose(handle) -> whether it was live. Disposing twice is allowed (the second does nothing).
Napi::Value Dispose(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), Data(info.Env()).tensors.Release(info.Env(), info[0]));
}

Napi::Value IsDisposed(const Napi::CallbackInfo& info) {
  if (FindTensor(info[0]) != nullptr) return Napi::Boolean::New(info.Env(), false);
  if (!info[0].IsBigInt()) ThrowNotTensor(info[0], "isDisposed");
  return Napi::Boolean::New(info.Env(), true);
}

Napi::Value Shape(const Napi::CallbackInfo& info) { return IntArray(info.Env(), Self(info, "shape").sizes()); }
Napi::Value Strides(const Napi::CallbackInfo& info) { return IntArray(info.Env(), Self(info, "strides").strides()); }
Napi::Value Dtype(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), DtypeName(Self(info, "dtype").scalar_type()));
}
Napi::Value Device(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), Self(info, "device").device().str()); }
Napi::Value Numel(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(Self(info, "numel").numel()));
}
Napi::Value Nbytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(Self(info, "nbytes").nbytes()));
}
Napi::Value RequiresGrad(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), Self(info, "requiresGrad").requires_grad());
}
Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info) {
  Self(info, "setRequiresGrad").set_requires_grad(info[1].ToBoolean().Value());
  return info.Env().Undefined();
}
Napi::Value IsLeaf(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), Self(info, "isLeaf").is_leaf()); }
Napi::Value Grad(const Napi::CallbackInfo& info) { return WrapTensor(info.Env(), Self(info, "grad").grad()); }

// tensorSetGrad(handle, grad | null)
Napi::Value SetGrad(const Napi::CallbackInfo& info) {
  at::Tensor& t = Self(info, "setGrad");
  if (info[1].IsNull() || info[1].IsUndefined()) {
    t.mutable_grad() = at::Tensor();
  } else {
    t.mutable_grad() = UnwrapTensor(info[1], "setGrad");
  }
  return info.Env().Undefined();
}

// tensorBackward(handle, gradient | null, retainGraph)
Napi::Value Backward(const Napi::CallbackInfo& info) {
  at::Tensor t = Self(info, "backward");
  at::Tensor g;
  if (info.Length() > 1 && !info[1].IsNull() && !info[1].IsUndefined()) g = UnwrapTensor(info[1], "backward(gradient)");
  bool retain = info.Length() > 2 && info[2].ToBoolean().Value();
  try {
    torch::autograd::backward({t}, g.defined() ? torch::autograd::variable_list{g} : torch::autograd::variable_list{},
                              retain ? c10::optional<bool>(true) : c10::nullopt, false);
  } catch (const c10::Error& e) {
    throw Napi::Error::New(info.Env(), e.what_without_backtrace());
  }
  return info.Env().Undefined();
}

Napi::Value Item(const Napi::CallbackInfo& info) {
  at::Tensor& t = Self(info, "item");
  if (t.numel() != 1) {
    throw Napi::Error::New(info.Env(), "item(): tensor has " + std::to_string(t.numel()) + " elements, expected 1");
  }
  at::Scalar s = t.item();
  if (s.isBoolean()) return Napi::Boolean::New(info.Env(), s.toBool());
  if (s.isIntegral(false)) return Napi::Number::New(info.Env(), static_cast<double>(s.toLong()));
  return Napi::Number::New(info.Env(), s.toDouble());
}

// A copy of the (contiguous, CPU) data as an ArrayBuffer in the tensor's dtype.
Napi::Value ToBuffer(const Napi::CallbackInfo& info) {
  at::Tensor c = Self(info, "toBuffer").detach().to(at::kCPU).contiguous();
  size_t n = c.nbytes();
  Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(info.Env(), n);
  if (n > 0) std::memcpy(buf.Data(), c.data_ptr(), n);
  return buf;
}

// The tensor's bytes without a copy: an external ArrayBuffer over the memory of the (CPU, contiguous) tensor, which
// holds a reference to the tensor until the buffer is collected, so the memory stays valid (a non-contiguous or non-CPU
// tensor is first made contiguous on the CPU, and that copy is what is held). For streaming large tensors out
// (writing archives) without a JavaScript copy per tensor that only the garbage collector would free. Where the
// runtime forbids external buffers (a V8 sandbox), falls back to a copy.
Napi::Value BytesView(const Napi::CallbackInfo& info) {
  at::Tensor c = Self(info, "bytesView").detach().to(at::kCPU).contiguous();
  const size_t n = c.nbytes();
  if (n == 0) return Napi::ArrayBuffer::New(info.Env(), 0);
  auto* held = new at::Tensor(c);
  try {
    return Napi::ArrayBuffer::New(info.Env(), held->data_ptr(), n, [](Napi::Env, void*, at::Tensor* t) { delete t; }, held);
  } catch (const Napi::Error&) {
    delete held;
    Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(info.Env(), n);
    std::memcpy(buf.Data(), c.data_ptr(), n);
    return buf;
  }
}

// tensorVersion(handle): the version counter, bumped by every in-place write (ATen's _version; shared with views and
// detached aliases). Lets a cache of something derived from a tensor (ops/nn.ts's transposed weights) see that the
// tensor changed.
Napi::Value Version(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(Self(info, "version")._version()));
}

// tensorSameStorage(a, b)
Napi::Value SameStorage(const Napi::CallbackInfo& info) {
  at::Tensor& t = Self(info, "sameStorage");
  at::Tensor& other = UnwrapTensor(info[1], "sameStorage");
  return Napi::Boolean::New(info.Env(), t.storage().unsafeGetStorageImpl() == other.storage().unsafeGetStorageImpl());
}

// tensorAssign(handle, other): the handle now refers to `other`'s tensor, detached (shallow: the same storage, no copy),
// keeping its own requires_grad. What was referenced before is dropped (freed with its last handle). Lets a model built
// on the 'meta' device take the loaded weights as its own (PyTorch's load_state_dict(assign=True)), so loading holds
// the weights once instead of twice.
Napi::Value Assign(const Napi::CallbackInfo& info) {
  at::Tensor& t = Self(info, "assign");
  at::Tensor& other = UnwrapTensor(info[1], "assign");
  const bool grad = t.requires_grad();
  t = other.detach();  // a leaf of its own, whatever `other` was
  if (grad) t.set_requires_grad(true);
  return info.Env().Undefined();
}

}  // namespace

void InitTensors(Napi::Env env, Napi::Object exports) {
  const std::pair<const char*, Napi::Value (*)(const Napi::CallbackInfo&)> fns[] = {
      {"tensorDispose", Dispose},
      {"tensorIsDisposed", IsDisposed},
      {"tensorShape", Shape},
      {"tensorStrides", Strides},
      {"tensorDtype", Dtype},
      {"tensorDevice", Device},
      {"tensorNumel", Numel},
      {"tensorNbytes", Nbytes},
      {"tensorRequiresGrad", RequiresGrad},
      {"tensorSetRequiresGrad", SetRequiresGrad},
      {"tensorIsLeaf", IsLeaf},
      {"tensorGrad", Grad},
      {"tensorSetGrad", SetGrad},
      {"tensorBackward", Backward},
      {"tensorItem", Item},
      {"tensorToBuffer", ToBuffer},
      {"tensorBytesView", BytesView},
      {"tensorSameStorage", SameStorage},
      {"tensorVersion", Version},
      {"tensorAssign", Assign},
  };
  for (const auto& [name, fn] : fns) exports.Set(name, Napi::Function::New(env, fn, name));
}

}  // namespace streamnest
