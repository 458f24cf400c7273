// Process-wide runtime: tensor creation from bytes, grad mode, seeding, threads, BLAS,
// autograd.grad, the fused optimizer steps and gradient clipping.
#include "runtime.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "dropout-mask.h"
#include "small-products.h"
#include "step-kernels.h"
#include "tensor.h"

namespace streamnest {

namespace {

std::vector<at::Tensor> TensorList(const Napi::Value& v, const char* what) {
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), std::string(what) + ": expected an array of tensors");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) out.push_back(UnwrapTensor(a.Get(i), what));
  return out;
}

Napi::Array WrapList(Napi::Env env, const std::vector<at::Tensor>& ts) {
  Napi::Array out = Napi::Array::New(env, ts.size());
  for (size_t i = 0; i < ts.size(); i++) out.Set(i, WrapTensor(env, ts[i]));
  return out;
}

double Num(const Napi::Value& v) { return v.As<Napi::Number>().DoubleValue(); }

template <typename F>
auto Guard(Napi::Env env, const char* what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const c10::Error& e) {
    throw Napi::Error::New(env, std::string(what) + ": " + e.what_without_backtrace());
  }
}

// fromBuffer(bytes: ArrayBuffer | TypedArray, dtype, shape) -> tensor (a copy).
Napi::Value FromBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* data = nullptr;
  size_t len = 0;
  if (info[0].IsArrayBuffer()) {
    auto ab = info[0].As<Napi::ArrayBuffer>();
    data = static_cast<const uint8_t*>(ab.Data());
    len = ab.ByteLength();
  } else if (info[0].IsTypedArray()) {
    auto ta = info[0].As<Napi::TypedArray>();
    data = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    len = ta.ByteLength();
  } else if (info[0].IsDataView()) {
    auto dv = info[0].As<Napi::DataView>();
    data = static_cast<const uint8_t*>(dv.ArrayBuffer().Data()) + dv.ByteOffset();
    len = dv.ByteLength();
  } else {
    throw Napi::TypeError::New(env, "fromBuffer: expected an ArrayBuffer or typed array");
  }
  at::ScalarType dt = ParseDtype(env, info[1].As<Napi::String>().Utf8Value());
  Napi::Array shapeArr = info[2].As<Napi::Array>();
  std::vector<int64_t> shape;
  for (uint32_t i = 0; i < shapeArr.Length(); i++) {
    double d = shapeArr.Get(i).As<Napi::Number>().DoubleValue();
    if (d < 0 || d != static_cast<double>(static_cast<int64_t>(d))) {
      throw Napi::RangeError::New(env, "fromBuffer: shape entries must be non-negative integers");
    }
    shape.push_back(static_cast<int64_t>(d));
  }
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dt));
  if (t.nbytes() != len) {
    throw Napi::RangeError::New(env, "fromBuffer: " + std::to_string(len) + " bytes given, shape and dtype " +
                                         DtypeName(dt) + " need " + std::to_string(t.nbytes()));
  }
  if (len > 0) std::memcpy(t.data_ptr(), data, len);
  return WrapTensor(env, t);
}

Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  bool prev = at::GradMode::is_enabled();
  at::GradMode::set_enabled(info[0].ToBoolean().Value());
  return Napi::Boolean::New(info.Env(), prev);
}

Napi::Value IsGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), at::GradMode::is_enabled());
}

Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  torch::manual_seed(static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value()));
  return info.Env().Undefined();
}

Napi::Value DefaultGeneratorState(const Napi::CallbackInfo& info) {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return WrapTensor(info.Env(), gen.get_state());
}

Napi::Value SetDefaultGeneratorState(const Napi::CallbackInfo& info) {
  auto gen = at::detail::getDefaultCPUGenerator();
  at::Tensor st = UnwrapTensor(info[0], "setDefaultGeneratorState");
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(st);
  return info.Env().Undefined();
}

using SetThreadsFn = void (*)(int);
using GetThreadsFn = int (*)();
using GetConfigFn = char* (*)();

// One setting governs libtorch's intra-op pool and OpenBLAS's pool.
Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  int n = info[0].As<Napi::Number>().Int32Value();
  if (n < 1) throw Napi::RangeError::New(info.Env(), "setNumThreads: need at least 1 thread");
  at::set_num_threads(n);
  if (auto f = reinterpret_cast<SetThreadsFn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) f(n);
  return info.Env().Undefined();
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::get_num_threads());
}

// Which library provides sgemm_ (the BLAS libtorch calls), and OpenBLAS's own config if it is OpenBLAS.
Napi::Value BlasInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  void* sym = dlsym(RTLD_DEFAULT, "sgemm_");
  Dl_info dl;
  if (sym && dladdr(sym, &dl) && dl.dli_fname) {
    out.Set("library", Napi::String::New(env, dl.dli_fname));
  } else {
    out.Set("library", env.Null());
  }
  if (auto f = reinterpret_cast<GetConfigFn>(dlsym(RTLD_DEFAULT, "openblas_get_config"))) {
    out.Set("openblasConfig", Napi::String::New(env, f()));
  } else {
    out.Set("openblasConfig", env.Null());
  }
  if (auto f = reinterpret_cast<GetConfigFn>(dlsym(RTLD_DEFAULT, "openblas_get_corename"))) {
    out.Set("openblasCore", Napi::String::New(env, f()));
  }
  if (auto f = reinterpret_cast<GetThreadsFn>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"))) {
    out.Set("openblasThreads", Napi::Number::New(env, f()));
  }
  out.Set("torchConfig", Napi::String::New(env, at::show_config()));
  return out;
}

Napi::Value LiveTensors(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(g_live_tensors.load()));
}

Napi::Value CudaInfo(const Napi::CallbackInfo& info) {
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("available", Napi::Boolean::New(info.Env(), torch::cuda::is_available()));
  out.Set("deviceCount", Napi::Number::New(info.Env(), static_cast<double>(torch::cuda::device_count())));
  return out;
}

Napi::Value Version(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), TORCH_VERSION);
}

// autogradGrad(outputs[], inputs[], gradOutputs[]|null, retainGraph, createGraph, allowUnused) -> grads[] (null where unused)
Napi::Value AutogradGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto outputs = TensorList(info[0], "grad(outputs)");
  auto inputs = TensorList(info[1], "grad(inputs)");
  std::vector<at::Tensor> gradOutputs;
  if (info[2].IsArray()) gradOutputs = TensorList(info[2], "grad(gradOutputs)");
  bool retain = info[3].ToBoolean().Value();
  bool create = info[4].ToBoolean().Value();
  bool allowUnused = info[5].ToBoolean().Value();
  auto grads = Guard(env, "grad", [&] {
    return torch::autograd::grad(outputs, inputs, gradOutputs, retain ? c10::optional<bool>(true) : c10::nullopt,
                                 create, allowUnused);
  });
  return WrapList(env, grads);
}

// adamwStep(params[], expAvg[], expAvgSq[], steps[], lr, beta1, beta2, eps, weightDecay):
// PyTorch's torch.optim.AdamW single-tensor update, op for op. Parameters without a gradient are skipped
// (their step count is not advanced, as in PyTorch). Steps are updated in the passed array.
Napi::Value AdamWStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto params = TensorList(info[0], "adamw(params)");
  auto expAvg = TensorList(info[1], "adamw(expAvg)");
  auto expAvgSq = TensorList(info[2], "adamw(expAvgSq)");
  Napi::Array steps = info[3].As<Napi::Array>();
  double lr = Num(info[4]), beta1 = Num(info[5]), beta2 = Num(info[6]), eps = Num(info[7]), wd = Num(info[8]);
  if (expAvg.size() != params.size() || expAvgSq.size() != params.size() || steps.Length() != params.size()) {
    throw Napi::RangeError::New(env, "adamw: state lists must match the parameter list");
  }
  Guard(env, "adamw", [&] {
    at::NoGradGuard ng;
    for (size_t i = 0; i < params.size(); i++) {
      at::Tensor& p = params[i];
      const at::Tensor& g = p.grad();
      if (!g.defined()) continue;
      double step = steps.Get(static_cast<uint32_t>(i)).As<Napi::Number>().DoubleValue() + 1;
      steps.Set(static_cast<uint32_t>(i), Napi::Number::New(env, step));
      p.mul_(1 - lr * wd);
      expAvg[i].mul_(beta1).add_(g, 1 - beta1);
      expAvgSq[i].mul_(beta2).addcmul_(g, g, 1 - beta2);
      double bc1 = 1 - std::pow(beta1, step);
      double bc2 = 1 - std::pow(beta2, step);
      double stepSize = lr / bc1;
      at::Tensor denom = (expAvgSq[i].sqrt() / std::sqrt(bc2)).add_(eps);
      p.addcdiv_(expAvg[i], denom, -stepSize);
    }
    return 0;
  });
  return env.Undefined();
}

// sgdStep(params[], momentumBuffers[] (null entries allowed), lr, momentum, dampening, weightDecay, nesterov)
// -> momentumBuffers[]: torch.optim.SGD's update.
Napi::Value SgdStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto params = TensorList(info[0], "sgd(params)");
  Napi::Array bufsIn = info[1].As<Napi::Array>();
  double lr = Num(info[2]), momentum = Num(info[3]), dampening = Num(info[4]), wd = Num(info[5]);
  bool nesterov = info[6].ToBoolean().Value();
  std::vector<at::Tensor> bufs(params.size());
  Guard(env, "sgd", [&] {
    at::NoGradGuard ng;
    for (size_t i = 0; i < params.size(); i++) {
      Napi::Value b = bufsIn.Get(static_cast<uint32_t>(i));
      if (!b.IsNull() && !b.IsUndefined()) bufs[i] = UnwrapTensor(b, "sgd(momentumBuffers)");
      at::Tensor& p = params[i];
      const at::Tensor& g = p.grad();
      if (!g.defined()) continue;
      at::Tensor d = g;
      if (wd != 0) d = d.add(p, wd);
      if (momentum != 0) {
        if (!bufs[i].defined()) {
          bufs[i] = d.clone().detach();
        } else {
          bufs[i].mul_(momentum).add_(d, 1 - dampening);
        }
        d = nesterov ? d.add(bufs[i], momentum) : bufs[i];
      }
      p.add_(d, -lr);
    }
    return 0;
  });
  return WrapList(env, bufs);
}

// clipGradNorm(params[], maxNorm, normType) -> total norm (torch.nn.utils.clip_grad_norm_).
Napi::Value ClipGradNorm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto params = TensorList(info[0], "clipGradNorm(params)");
  double maxNorm = Num(info[1]);
  double normType = info.Length() > 2 ? Num(info[2]) : 2.0;
  double total = Guard(env, "clipGradNorm", [&] {
    at::NoGradGuard ng;
    std::vector<at::Tensor> grads;
    for (auto& p : params)
      if (p.grad().defined()) grads.push_back(p.grad());
    if (grads.empty()) return 0.0;
    at::Tensor totalNorm;
    if (std::isinf(normType)) {
      std::vector<at::Tensor> norms;
      for (auto& g : grads) norms.push_back(g.detach().abs().max());
      totalNorm = norms.size() == 1 ? norms[0] : at::stack(norms).max();
    } else {
      std::vector<at::Tensor> norms;
      for (auto& g : grads) norms.push_back(at::norm(g.detach(), normType));
      totalNorm = at::norm(at::stack(norms), normType);
    }
    at::Tensor coef = at::clamp(maxNorm / (totalNorm + 1e-6), c10::nullopt, 1.0);
    for (auto& g : grads) g.detach().mul_(coef);
    return totalNorm.item<double>();
  });
  return Napi::Number::New(env, total);
}

// rowProducts(weight [out, in] (or a kernel-1 conv weight [out, in, 1]), x [..., in], bias [out] or null) ->
// [..., out]: x W^T + bias as one matrix-vector product per row of x (at::addmv_out / at::mv_out into the result's
// rows). Over weights that stream in from memory, OpenBLAS's gemm with 2-3 rows reads them about 1.6x slower than
// that many matrix-vector products (bench/one-row-products.js --rows); one call keeps the loop over rows and the
// reshapes out of the dispatcher bridge. ATen's own ops, no kernel of ours. Records no autograd graph: callers use it
// with gradients off.
Napi::Value RowProducts(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::Tensor w = UnwrapTensor(info[0], "rowProducts(weight)");
  at::Tensor x = UnwrapTensor(info[1], "rowProducts(x)");
  const bool hasBias = !(info[2].IsNull() || info[2].IsUndefined());
  at::Tensor b = hasBias ? UnwrapTensor(info[2], "rowProducts(bias)") : at::Tensor();
  at::Tensor y = Guard(env, "rowProducts", [&] {
    at::NoGradGuard ng;
    at::Tensor m = w.dim() == 3 && w.size(2) == 1 ? w.view({w.size(0), w.size(1)}) : w;
    TORCH_CHECK(m.dim() == 2 && x.dim() >= 1 && x.size(-1) == m.size(1), "expected weight [out, in] and x [..., in], got ",
                w.sizes(), " and ", x.sizes());
    at::Tensor rows = x.reshape({-1, m.size(1)});
    at::Tensor out = at::empty({rows.size(0), m.size(0)}, x.options());
    for (int64_t r = 0; r < rows.size(0); r++) {
      at::Tensor row = out.select(0, r);
      if (hasBias)
        at::addmv_out(row, b, m, rows.select(0, r));
      else
        at::mv_out(row, m, rows.select(0, r));
    }
    std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
    shape.back() = m.size(0);
    return out.view(shape);
  });
  return WrapTensor(env, y);
}

// BLAS's Fortran gemm entry points (sgemm_ / dgemm_), called by batchedProducts below.
using SgemmFn = void (*)(const char*, const char*, const int*, const int*, const int*, const float*, const float*, const int*,
                         const float*, const int*, const float*, float*, const int*);
using DgemmFn = void (*)(const char*, const char*, const int*, const int*, const int*, const double*, const double*, const int*,
                         const double*, const int*, const double*, double*, const int*);

/** A row-major [r, c] matrix with strides (sr, sc) as BLAS's column-major operand X^T ([c, r]): 'N' when rows are
 * contiguous, 'T' when columns are; false when neither. */
bool ColumnMajorOperand(int64_t r, int64_t c, int64_t sr, int64_t sc, char* trans, int* ld) {
  if (sr > INT32_MAX || sc > INT32_MAX) return false;  // BLAS's leading dimensions are ints
  if ((sc == 1 || c == 1) && (r == 1 || sr >= c)) {
    *trans = 'N';
    *ld = static_cast<int>(r == 1 ? std::max<int64_t>(c, 1) : sr);
    return true;
  }
  if ((sr == 1 || r == 1) && (c == 1 || sc >= r)) {
    *trans = 'T';
    *ld = static_cast<int>(c == 1 ? std::max<int64_t>(r, 1) : sc);
    return true;
  }
  return false;
}

template <typename T, typename Fn>
void GemmLoop(Fn gemm, const at::Tensor& a, const at::Tensor& b, at::Tensor& out, char ta, int lda, char tb, int ldb) {
  const int64_t d = a.dim();
  const int m = static_cast<int>(a.size(d - 2)), k = static_cast<int>(a.size(d - 1)), n = static_cast<int>(b.size(d - 1));
  const T one = 1, zero = 0;
  const int64_t outer = d == 4 ? a.size(0) : 1, inner = a.size(d - 3);
  const int64_t ao = d == 4 ? a.stride(0) : 0, ai = a.stride(d - 3), bo = d == 4 ? b.stride(0) : 0, bi = b.stride(d - 3);
  const T* pa = a.data_ptr<T>();
  const T* pb = b.data_ptr<T>();
  T* pc = out.data_ptr<T>();
  for (int64_t i = 0; i < outer; i++)
    for (int64_t j = 0; j < inner; j++, pc += static_cast<int64_t>(m) * n)
      // C^T [n, m] = B^T [n, k] A^T [k, m], all column-major; C row-major with ldc = n
      gemm(&tb, &ta, &n, &m, &k, &one, pb + i * bo + j * bi, &ldb, pa + i * ao + j * ai, &lda, &zero, pc, &n);
}

// batchedProducts(a [..., m, k], b [..., k, n]) -> [..., m, n] (contiguous): one matrix product per batch element,
// through BLAS's gemm (sgemm_ / dgemm_, found with dlsym) called directly in a loop. Why: ATen's bmm on the CPU splits
// the batch into one addmm per element, each with its own tensor views and checks, about 1-2 us per matrix; the
// attention of 16 batched streams multiplies 64 small matrices (4 x 44 by 44 x 166) per product, twice per layer, and
// that took 1.6-1.8x the time of this loop (bench/batched-products.js: 130-210 against 84-114 us). The same gemm ATen calls
// for each element (column-major operands, the same transposition flags), so the same sums. Falls back to at::matmul
// for anything else: other dtypes or devices, batch shapes that differ (no broadcasting), an operand whose matrices
// have no unit stride, empty sizes, or no BLAS symbol (a libtorch with MKL linked in). Records no autograd graph:
// callers use it with gradients off.
Napi::Value BatchedProducts(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::Tensor a = UnwrapTensor(info[0], "batchedProducts(a)");
  at::Tensor b = UnwrapTensor(info[1], "batchedProducts(b)");
  at::Tensor y = Guard(env, "batchedProducts", [&] {
    at::NoGradGuard ng;
    static const auto sgemm = reinterpret_cast<SgemmFn>(dlsym(RTLD_DEFAULT, "sgemm_"));
    static const auto dgemm = reinterpret_cast<DgemmFn>(dlsym(RTLD_DEFAULT, "dgemm_"));
    const int64_t d = a.dim();
    const bool shapes = (d == 3 || d == 4) && b.dim() == d && a.size(d - 1) == b.size(d - 2) && a.sizes().slice(0, d - 2) == b.sizes().slice(0, d - 2);
    const bool kinds = a.device().is_cpu() && b.device().is_cpu() && a.scalar_type() == b.scalar_type() &&
                       ((a.scalar_type() == at::kFloat && sgemm) || (a.scalar_type() == at::kDouble && dgemm));
    const bool kernel = info.Length() < 3 || !info[2].IsBoolean() || info[2].As<Napi::Boolean>().Value();
    if (kernel)
      if (at::Tensor y = SmallBatchedProducts(a, b); y.defined()) return y;  // a few rows: the small-product kernel
    if (!shapes || !kinds || a.numel() == 0 || b.numel() == 0 || a.size(d - 2) > INT32_MAX || a.size(d - 1) > INT32_MAX || b.size(d - 1) > INT32_MAX)
      return at::matmul(a, b);
    char ta, tb;
    int lda, ldb;
    if (!ColumnMajorOperand(a.size(d - 2), a.size(d - 1), a.stride(d - 2), a.stride(d - 1), &ta, &lda) ||
        !ColumnMajorOperand(b.size(d - 2), b.size(d - 1), b.stride(d - 2), b.stride(d - 1), &tb, &ldb))
      return at::matmul(a, b);
    std::vector<int64_t> shape(a.sizes().begin(), a.sizes().end());
    shape.back() = b.size(d - 1);
    at::Tensor out = at::empty(shape, a.options());
    if (a.scalar_type() == at::kFloat)
      GemmLoop<float>(sgemm, a, b, out, ta, lda, tb, ldb);
    else
      GemmLoop<double>(dgemm, a, b, out, ta, lda, tb, ldb);
    return out;
  });
  return WrapTensor(env, y);
}

// smallProductKernel() -> "avx512" | "avx2" | null: the kernel packedProducts runs on this CPU (small-products.cc).
Napi::Value SmallProductKernelName(const Napi::CallbackInfo& info) {
  const char* k = SmallProductKernel();
  return k ? Napi::String::New(info.Env(), k) : info.Env().Null();
}

// packWeight(weight [out, in], or a conv weight [out, ...] flattened to [out, in]: a kernel-1 conv1d's [out, in, 1], a
// one-channel conv2d's [out, 1, kh, kw]; float32 CPU) -> the packed copy packedProducts reads ([panels, in, NR]).
Napi::Value PackWeight(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::Tensor w = UnwrapTensor(info[0], "packWeight(weight)");
  at::Tensor y = Guard(env, "packWeight", [&] {
    return PackForSmallProducts(w.dim() > 2 ? w.reshape({w.size(0), -1}) : w);
  });
  return WrapTensor(env, y);
}

// packedProducts(x [..., in], packed, out, bias [out] or null, relu = false) -> [..., out]: x W^T + bias (then
// max(0, .) when relu) through the small-product kernel. Records no autograd graph: callers use it with gradients off.
Napi::Value PackedProducts(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::Tensor x = UnwrapTensor(info[0], "packedProducts(x)");
  at::Tensor packed = UnwrapTensor(info[1], "packedProducts(packed)");
  const int64_t out = static_cast<int64_t>(Num(info[2]));
  const bool hasBias = !(info[3].IsNull() || info[3].IsUndefined());
  at::Tensor b = hasBias ? UnwrapTensor(info[3], "packedProducts(bias)") : at::Tensor();
  const bool relu = info.Length() > 4 && info[4].IsBoolean() && info[4].As<Napi::Boolean>().Value();
  at::Tensor y = Guard(env, "packedProducts", [&] { return SmallProducts(x, packed, out, b, relu); });
  return WrapTensor(env, y);
}

// depthwiseWindows(x [B, C, L], weight [C, 1, K], bias [C] or null) -> [B, C, L - K + 1], or null where the kernel
// does not apply (not float32 CPU with unit stride along L). Records no autograd graph: callers use it with gradients off.
Napi::Value DepthwiseWindowsOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::Tensor x = UnwrapTensor(info[0], "depthwiseWindows(x)");
  at::Tensor w = UnwrapTensor(info[1], "depthwiseWindows(weight)");
  const bool hasBias = !(info[2].IsNull() || info[2].IsUndefined());
  at::Tensor b = hasBias ? UnwrapTensor(info[2], "depthwiseWindows(bias)") : at::Tensor();
  at::Tensor y = Guard(env, "depthwiseWindows", [&] { return DepthwiseWindows(x, w, b); });
  return y.defined() ? WrapTensor(env, y) : env.Null();
}

// dropoutMask(shape, scalarType, seed: bigint, keep) -> a new mask (1/keep where kept, 0 where dropped; float32 or
// bfloat16, CPU), or null for another dtype (dropout-mask.cc).
Napi::Value DropoutMaskOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray() || !info[2].IsBigInt()) throw Napi::TypeError::New(env, "dropoutMask(shape, scalarType, seed: bigint, keep)");
  Napi::Array a = info[0].As<Napi::Array>();
  std::vector<int64_t> shape(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) shape[i] = a.Get(i).As<Napi::Number>().Int64Value();
  const auto dtype = static_cast<at::ScalarType>(info[1].As<Napi::Number>().Int32Value());
  bool lossless = false;
  const uint64_t seed = info[2].As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless) throw Napi::RangeError::New(env, "dropoutMask: the seed must be an unsigned 64-bit integer");
  const double keep = Num(info[3]);
  at::Tensor y = Guard(env, "dropoutMask", [&] { return DropoutMask(shape, dtype, seed, keep); });
  return y.defined() ? WrapTensor(env, y) : env.Null();
}

// dropoutMaskKernel() -> "avx512" | "avx2" | "generic": the loop dropoutMask runs on this CPU.
Napi::Value DropoutMaskKernelName(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), DropoutMaskKernel()); }

}  // namespace

void InitRuntime(Napi::Env env, Napi::Object exports) {
  exports.Set("fromBuffer", Napi::Function::New(env, FromBuffer));
  exports.Set("setGradEnabled", Napi::Function::New(env, SetGradEnabled));
  exports.Set("isGradEnabled", Napi::Function::New(env, IsGradEnabled));
  exports.Set("manualSeed", Napi::Function::New(env, ManualSeed));
  exports.Set("defaultGeneratorState", Napi::Function::New(env, DefaultGeneratorState));
  exports.Set("setDefaultGeneratorState", Napi::Function::New(env, SetDefaultGeneratorState));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads));
  exports.Set("getNumThreads", Napi::Function::New(env, GetNumThreads));
  exports.Set("blasInfo", Napi::Function::New(env, BlasInfo));
  exports.Set("liveTensors", Napi::Function::New(env, LiveTensors));
  exports.Set("cudaInfo", Napi::Function::New(env, CudaInfo));
  exports.Set("version", Napi::Function::New(env, Version));
  exports.Set("autogradGrad", Napi::Function::New(env, AutogradGrad));
  exports.Set("adamwStep", Napi::Function::New(env, AdamWStep));
  exports.Set("sgdStep", Napi::Function::New(env, SgdStep));
  exports.Set("clipGradNorm", Napi::Function::New(env, ClipGradNorm));
  exports.Set("rowProducts", Napi::Function::New(env, RowProducts));
  exports.Set("batchedProducts", Napi::Function::New(env, BatchedProducts));
  exports.Set("smallProductKernel", Napi::Function::New(env, SmallProductKernelName));
  exports.Set("packWeight", Napi::Function::New(env, PackWeight));
  exports.Set("packedProducts", Napi::Function::New(env, PackedProducts));
  exports.Set("depthwiseWindows", Napi::Function::New(env, DepthwiseWindowsOp));
  exports.Set("dropoutMask", Napi::Function::New(env, DropoutMaskOp));
  exports.Set("dropoutMaskKernel", Napi::Function::New(env, DropoutMaskKernelName));
}

}  // namespace streamnest
