// Every ATen operator through the boxed dispatcher: TypeScript looks an operator up once
// by schema name ("aten::add", "Tensor"), then calls it with JS values that are converted
// to IValues by the schema's argument types. Autograd, CPU and CUDA kernels all sit behind
// the dispatcher, so this one entry point gives the whole op surface with PyTorch's numerics.
#include "dispatch.h"

#include <ATen/core/dispatch/Dispatcher.h>

#include <vector>

#include "generator.h"
#include "tensor.h"

namespace streamnest {

namespace {
std::vector<c10::OperatorHandle> g_ops;

[[noreturn]] void ArgError(Napi::Env env, const c10::FunctionSchema& s, const c10::Argument& a, const std::string& msg) {
  throw Napi::TypeError::New(env, s.name() + (s.overload_name().empty() ? "" : "." + s.overload_name()) + ": argument '" +
                                      a.name() + "' (" + a.type()->str() + "): " + msg);
}

// The tensor behind a handle argument. The error context is built only on failure ("aten::add: other: ...").
const at::Tensor& TensorArg(const c10::FunctionSchema& s, const c10::Argument& a, const Napi::Value& v) {
  if (const at::Tensor* t = FindTensor(v)) return *t;
  ThrowNotTensor(v, s.name() + ": " + a.name());
}

int64_t ToInt(Napi::Env env, const c10::FunctionSchema& s, const c10::Argument& a, const Napi::Value& v) {
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? 1 : 0;
  if (!v.IsNumber()) ArgError(env, s, a, "expected an integer");
  double d = v.As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<int64_t>(d))) ArgError(env, s, a, "expected an integer, got " + std::to_string(d));
  return static_cast<int64_t>(d);
}

c10::IValue ToIValue(Napi::Env env, const c10::FunctionSchema& s, const c10::Argument& a, const c10::TypePtr& type,
                     const Napi::Value& v);

c10::IValue ToList(Napi::Env env, const c10::FunctionSchema& s, const c10::Argument& a, const c10::TypePtr& elem,
                   const Napi::Value& v) {
  // PyTorch accepts a bare value for int[N] arguments (dim=1 means [1]).
  std::vector<Napi::Value> items;
  if (v.IsArray()) {
    Napi::Array arr = v.As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); i++) items.push_back(arr.Get(i));
  } else {
    items.push_back(v);
  }
  switch (elem->kind()) {
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType: {
      c10::List<int64_t> out;
      for (auto& x : items) out.push_back(ToInt(env, s, a, x));
      return out;
    }
    case c10::TypeKind::FloatType: {
      c10::List<double> out;
      for (auto& x : items) {
        if (!x.IsNumber()) ArgError(env, s, a, "expected numbers");
        out.push_back(x.As<Napi::Number>().DoubleValue());
      }
      return out;
    }
    case c10::TypeKind::BoolType: {
      c10::List<bool> out;
      for (auto& x : items) out.push_back(x.ToBoolean().Value());
      return out;
    }
    case c10::TypeKind::TensorType: {
      c10::List<at::Tensor> out;
      for (auto& x : items) out.push_back(TensorArg(s, a, x));
      return out;
    }
    case c10::TypeKind::OptionalType: {
      c10::List<c10::optional<at::Tensor>> out;
      for (auto& x : items) {
        if (x.IsNull() || x.IsUndefined()) {
          out.push_back(c10::nullopt);
        } else {
          out.push_back(TensorArg(s, a, x));
        }
      }
      return out;
    }
    default:
      ArgError(env, s, a, "unsupported list element type");
  }
}

c10::IValue ToIValue(Napi::Env env, const c10::FunctionSchema& s, const c10::Argument& a, const c10::TypePtr& type,
                     const Napi::Value& v) {
  switch (type->kind()) {
    case c10::TypeKind::OptionalType:
      if (v.IsNull() || v.IsUndefined()) return c10::IValue();
      return ToIValue(env, s, a, type->castRaw<c10::OptionalType>()->getElementType(), v);
    case c10::TypeKind::TensorType:
      return TensorArg(s, a, v);
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType:
    case c10::TypeKind::ScalarTypeType:
    case c10::TypeKind::LayoutType:
    case c10::TypeKind::MemoryFormatType:
      return ToInt(env, s, a, v);
    case c10::TypeKind::FloatType:
      if (!v.IsNumber()) ArgError(env, s, a, "expected a number");
      return v.As<Napi::Number>().DoubleValue();
    case c10::TypeKind::BoolType:
      if (!v.IsBoolean()) ArgError(env, s, a, "expected a boolean");
      return v.As<Napi::Boolean>().Value();
    case c10::TypeKind::NumberType: {
      if (v.IsBoolean()) return c10::Scalar(v.As<Napi::Boolean>().Value());
      if (!v.IsNumber()) ArgError(env, s, a, "expected a number");
      double d = v.As<Napi::Number>().DoubleValue();
      // Integral JS numbers become integer scalars so that int64 tensors stay int64 (PyTorch's rule for Python ints).
      if (std::isfinite(d) && d == static_cast<double>(static_cast<int64_t>(d)) && std::abs(d) < 9007199254740992.0) {
        return c10::Scalar(static_cast<int64_t>(d));
      }
      return c10::Scalar(d);
    }
    case c10::TypeKind::StringType:
      if (!v.IsString()) ArgError(env, s, a, "expected a string");
      return v.As<Napi::String>().Utf8Value();
    case c10::TypeKind::DeviceObjType:
      if (!v.IsString()) ArgError(env, s, a, "expected a device string such as 'cpu' or 'cuda:0'");
      return c10::Device(v.As<Napi::String>().Utf8Value());
    case c10::TypeKind::GeneratorType:
      return GeneratorWrap::FromValue(v);
    case c10::TypeKind::ListType:
      return ToList(env, s, a, type->castRaw<c10::ListType>()->getElementType(), v);
    default:
      ArgError(env, s, a, "argument type not supported by streamnest's dispatcher bridge");
  }
}

Napi::Value FromIValue(Napi::Env env, c10::IValue v) {
  if (v.isTensor()) return WrapTensor(env, std::move(v).toTensor());
  if (v.isNone()) return env.Null();
  if (v.isInt()) return Napi::Number::New(env, static_cast<double>(v.toInt()));
  if (v.isDouble()) return Napi::Number::New(env, v.toDouble());
  if (v.isBool()) return Napi::Boolean::New(env, v.toBool());
  if (v.isTensorList()) {
    auto list = v.toTensorList();
    Napi::Array out = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); i++) out.Set(i, WrapTensor(env, list.get(i)));
    return out;
  }
  if (v.isTuple()) {
    const auto& elems = v.toTupleRef().elements();
    Napi::Array out = Napi::Array::New(env, elems.size());
    for (size_t i = 0; i < elems.size(); i++) out.Set(i, FromIValue(env, elems[i]));
    return out;
  }
  if (v.isList()) {
    auto list = v.toListRef();
    Napi::Array out = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); i++) out.Set(i, FromIValue(env, list[i]));
    return out;
  }
  if (v.isString()) return Napi::String::New(env, v.toStringRef());
  if (v.isScalar()) {
    auto sc = v.toScalar();
    return Napi::Number::New(env, sc.toDouble());
  }
  throw Napi::Error::New(env, "operator returned a value of unsupported kind " + v.tagKind());
}

// findOp(name, overload) -> handle index
Napi::Value FindOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>().Utf8Value();
  std::string overload = info[1].As<Napi::String>().Utf8Value();
  auto op = c10::Dispatcher::singleton().findSchema({name, overload});
  if (!op.has_value()) {
    throw Napi::Error::New(env, "libtorch has no operator " + name + (overload.empty() ? "" : "." + overload) +
                                    " (this libtorch version may name it differently)");
  }
  g_ops.push_back(*op);
  return Napi::Number::New(env, static_cast<double>(g_ops.size() - 1));
}

Napi::Value OpSchema(const Napi::CallbackInfo& info) {
  size_t h = static_cast<size_t>(info[0].As<Napi::Number>().Int64Value());
  std::ostringstream ss;
  ss << g_ops.at(h).schema();
  return Napi::String::New(info.Env(), ss.str());
}

// callOp(handle, ...args) -> value. Missing trailing arguments take the schema's defaults. (The arguments come as the
// call's own, not in an array: reading array elements through N-API costs more than the rest of the conversion.)
Napi::Value CallOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t h = static_cast<size_t>(info[0].As<Napi::Number>().Int64Value());
  if (h >= g_ops.size()) throw Napi::Error::New(env, "invalid operator handle");
  const c10::OperatorHandle& op = g_ops[h];
  const c10::FunctionSchema& s = op.schema();
  const auto& params = s.arguments();
  const size_t n = info.Length() > 0 ? info.Length() - 1 : 0;
  if (n > params.size()) {
    throw Napi::TypeError::New(env, s.name() + ": " + std::to_string(n) + " arguments given, schema takes " +
                                        std::to_string(params.size()));
  }
  torch::jit::Stack stack;
  stack.reserve(params.size());
  for (size_t i = 0; i < params.size(); i++) {
    const c10::Argument& a = params[i];
    Napi::Value v = info[i + 1];  // undefined past the end
    if (v.IsUndefined()) {
      if (a.default_value().has_value()) {
        stack.push_back(*a.default_value());
        continue;
      }
      if (a.type()->kind() == c10::TypeKind::OptionalType) {
        stack.emplace_back();
        continue;
      }
      ArgError(env, s, a, "required argument missing");
    }
    stack.push_back(ToIValue(env, s, a, a.type(), v));
  }
  try {
    op.callBoxed(&stack);
  } catch (const c10::Error& e) {
    throw Napi::Error::New(env, s.name() + (s.overload_name().empty() ? "" : "." + s.overload_name()) + ": " +
                                    e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, s.name() + ": " + e.what());
  }
  if (stack.empty()) return env.Undefined();
  if (stack.size() == 1) return FromIValue(env, std::move(stack[0]));
  Napi::Array out = Napi::Array::New(env, stack.size());
  for (size_t i = 0; i < stack.size(); i++) out.Set(i, FromIValue(env, std::move(stack[i])));
  return out;
}
}  // namespace

void InitDispatch(Napi::Env env, Napi::Object exports) {
  exports.Set("findOp", Napi::Function::New(env, FindOp));
  exports.Set("opSchema", Napi::Function::New(env, OpSchema));
  exports.Set("callOp", Napi::Function::New(env, CallOp));
}

}  // namespace streamnest
