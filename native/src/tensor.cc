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

Napi::Function TensorWrap::Init(Napi::Env env) {
  Napi::Function f = DefineClass(
      env, "NativeTensor",
      {
          InstanceMethod("dispose", &TensorWrap::Dispose),
          InstanceMethod("isDisposed", &TensorWrap::IsDisposed),
          InstanceMethod("shape", &TensorWrap::Shape),
          InstanceMethod("strides", &TensorWrap::Strides),
          InstanceMethod("dtype", &TensorWrap::Dtype),
          InstanceMethod("device", &TensorWrap::Device),
          InstanceMethod("numel", &TensorWrap::Numel),
          InstanceMethod("nbytes", &TensorWrap::Nbytes),
          InstanceMethod("requiresGrad", &TensorWrap::RequiresGrad),
          InstanceMethod("setRequiresGrad", &TensorWrap::SetRequiresGrad),
          InstanceMethod("isLeaf", &TensorWrap::IsLeaf),
          InstanceMethod("grad", &TensorWrap::Grad),
          InstanceMethod("setGrad", &TensorWrap::SetGrad),
          InstanceMethod("backward", &TensorWrap::Backward),
          InstanceMethod("item", &TensorWrap::Item),
          InstanceMethod("toBuffer", &TensorWrap::ToBuffer),
          InstanceMethod("sameStorage", &TensorWrap::SameStorage),
          InstanceMethod("assign", &TensorWrap::Assign),
          InstanceMethod("bytesView", &TensorWrap::BytesView),
      });
  Data(env).tensorCtor = Napi::Persistent(f);
  return f;
}

TensorWrap::TensorWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TensorWrap>(info) {
  if (info.Length() == 1 && info[0].IsExternal()) {
    auto* t = info[0].As<Napi::External<at::Tensor>>().Data();
    tensor = std::move(*t);
    live = true;
    g_live_tensors++;
    return;
  }
  throw Napi::TypeError::New(info.Env(), "NativeTensor cannot be constructed directly; use the op functions");
}

TensorWrap::~TensorWrap() { Release(); }

void TensorWrap::Release() {
  if (live) {
    tensor = at::Tensor();
    live = false;
    g_live_tensors--;
  }
}

Napi::Value TensorWrap::Wrap(Napi::Env env, at::Tensor t) {
  if (!t.defined()) return env.Null();
  Napi::EscapableHandleScope scope(env);
  auto ext = Napi::External<at::Tensor>::New(env, &t);
  Napi::Object obj = Data(env).tensorCtor.New({ext});
  return scope.Escape(obj);
}

bool TensorWrap::Is(const Napi::Value& v) {
  return v.IsObject() && v.As<Napi::Object>().InstanceOf(Data(v.Env()).tensorCtor.Value());
}

at::Tensor& TensorWrap::FromValue(const Napi::Value& v, const char* what) {
  if (!Is(v)) throw Napi::TypeError::New(v.Env(), std::string(what) + ": expected a tensor");
  auto* w = Napi::ObjectWrap<TensorWrap>::Unwrap(v.As<Napi::Object>());
  if (!w->live) throw Napi::Error::New(v.Env(), std::string(what) + ": tensor was already disposed");
  return w->tensor;
}

at::Tensor& TensorWrap::Checked(Napi::Env env) {
  if (!live) throw Napi::Error::New(env, "tensor was already disposed");
  return tensor;
}

Napi::Value TensorWrap::Dispose(const Napi::CallbackInfo& info) {
  Release();
  return info.Env().Undefined();
}

Napi::Value TensorWrap::IsDisposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !live);
}

static Napi::Array IntArray(Napi::Env env, c10::IntArrayRef xs) {
  Napi::Array a = Napi::Array::New(env, xs.size());
  for (size_t i = 0; i < xs.size(); i++) a.Set(i, Napi::Number::New(env, static_cast<double>(xs[i])));
  return a;
}

Napi::Value TensorWrap::Shape(const Napi::CallbackInfo& info) { return IntArray(info.Env(), Checked(info.Env()).sizes()); }
Napi::Value TensorWrap::Strides(const Napi::CallbackInfo& info) { return IntArray(info.Env(), Checked(info.Env()).strides()); }
Napi::Value TensorWrap::Dtype(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), DtypeName(Checked(info.Env()).scalar_type()));
}
Napi::Value TensorWrap::Device(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), Checked(info.Env()).device().str());
}
Napi::Value TensorWrap::Numel(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(Checked(info.Env()).numel()));
}
Napi::Value TensorWrap::Nbytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(Checked(info.Env()).nbytes()));
}
Napi::Value TensorWrap::RequiresGrad(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), Checked(info.Env()).requires_grad());
}
Napi::Value TensorWrap::SetRequiresGrad(const Napi::CallbackInfo& info) {
  Checked(info.Env()).set_requires_grad(info[0].ToBoolean().Value());
  return info.Env().Undefined();
}
Napi::Value TensorWrap::IsLeaf(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), Checked(info.Env()).is_leaf());
}
Napi::Value TensorWrap::Grad(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), Checked(info.Env()).grad());
}
Napi::Value TensorWrap::SetGrad(const Napi::CallbackInfo& info) {
  at::Tensor& t = Checked(info.Env());
  if (info[0].IsNull() || info[0].IsUndefined()) {
    t.mutable_grad() = at::Tensor();
  } else {
    t.mutable_grad() = FromValue(info[0], "setGrad");
  }
  return info.Env().Undefined();
}
Napi::Value TensorWrap::Backward(const Napi::CallbackInfo& info) {
  at::Tensor& t = Checked(info.Env());
  at::Tensor g;
  if (info.Length() > 0 && !info[0].IsNull() && !info[0].IsUndefined()) g = FromValue(info[0], "backward(gradient)");
  bool retain = info.Length() > 1 && info[1].ToBoolean().Value();
  try {
    torch::autograd::backward({t}, g.defined() ? torch::autograd::variable_list{g} : torch::autograd::variable_list{},
                              retain ? c10::optional<bool>(true) : c10::nullopt, false);
  } catch (const c10::Error& e) {
    throw Napi::Error::New(info.Env(), e.what_without_backtrace());
  }
  return info.Env().Undefined();
}

Napi::Value TensorWrap::Item(const Napi::CallbackInfo& info) {
  at::Tensor& t = Checked(info.Env());
  if (t.numel() != 1) {
    throw Napi::Error::New(info.Env(), "item(): tensor has " + std::to_string(t.numel()) + " elements, expected 1");
  }
  at::Scalar s = t.item();
  if (s.isBoolean()) return Napi::Boolean::New(info.Env(), s.toBool());
  if (s.isIntegral(false)) return Napi::Number::New(info.Env(), static_cast<double>(s.toLong()));
  return Napi::Number::New(info.Env(), s.toDouble());
}

// A copy of the (contiguous, CPU) data as an ArrayBuffer in the tensor's dtype.
Napi::Value TensorWrap::ToBuffer(const Napi::CallbackInfo& info) {
  at::Tensor c = Checked(info.Env()).detach().to(at::kCPU).contiguous();
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
Napi::Value TensorWrap::BytesView(const Napi::CallbackInfo& info) {
  at::Tensor c = Checked(info.Env()).detach().to(at::kCPU).contiguous();
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

Napi::Value TensorWrap::SameStorage(const Napi::CallbackInfo& info) {
  at::Tensor& other = FromValue(info[0], "sameStorage");
  at::Tensor& t = Checked(info.Env());
  return Napi::Boolean::New(info.Env(), t.storage().unsafeGetStorageImpl() == other.storage().unsafeGetStorageImpl());
}

// Makes this handle refer to `other`'s tensor, detached (shallow: the same storage, no copy), keeping its own requires_grad. What was
// referenced before is dropped (freed with its last handle). Lets a model built on the 'meta' device take the loaded
// weights as its own (PyTorch's load_state_dict(assign=True)), so loading holds the weights once instead of twice.
Napi::Value TensorWrap::Assign(const Napi::CallbackInfo& info) {
  at::Tensor& other = FromValue(info[0], "assign");
  at::Tensor& t = Checked(info.Env());
  const bool grad = t.requires_grad();
  t = other.detach();  // a leaf of its own, whatever `other` was
  if (grad) t.set_requires_grad(true);
  return info.Env().Undefined();
}

}  // namespace streamnest
