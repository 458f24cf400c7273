// torch.distributed's engine from libtorch: a c10d TCPStore rendezvous and a Gloo process group
// (CPU tensors; NCCL would be the CUDA counterpart in a CUDA build). Collectives block until done or timed out.
#include "distributed.h"

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <chrono>

#include "tensor.h"

namespace streamnest {

namespace {

class ProcessGroupWrap : public Napi::ObjectWrap<ProcessGroupWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "NativeProcessGroup",
                       {
                           InstanceMethod("allreduce", &ProcessGroupWrap::Allreduce),
                           InstanceMethod("broadcast", &ProcessGroupWrap::Broadcast),
                           InstanceMethod("barrier", &ProcessGroupWrap::Barrier),
                           InstanceMethod("rank", &ProcessGroupWrap::Rank),
                           InstanceMethod("size", &ProcessGroupWrap::Size),
                       });
  }

  // new NativeProcessGroup(host, port, rank, worldSize, timeoutMs)
  explicit ProcessGroupWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ProcessGroupWrap>(info) {
    Napi::Env env = info.Env();
    std::string host = info[0].As<Napi::String>().Utf8Value();
    int port = info[1].As<Napi::Number>().Int32Value();
    rank_ = info[2].As<Napi::Number>().Int32Value();
    size_ = info[3].As<Napi::Number>().Int32Value();
    timeout_ = std::chrono::milliseconds(info[4].As<Napi::Number>().Int64Value());
    if (rank_ < 0 || rank_ >= size_) throw Napi::RangeError::New(env, "process group: rank must be in [0, world size)");
    try {
      c10d::TCPStoreOptions so;
      so.port = static_cast<std::uint16_t>(port);
      so.isServer = rank_ == 0;
      so.numWorkers = static_cast<std::size_t>(size_);
      so.waitWorkers = true;
      so.timeout = timeout_;
      store_ = c10::make_intrusive<c10d::TCPStore>(host, so);
      auto opts = c10d::ProcessGroupGloo::Options::create(timeout_);
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(host));
      pg_ = c10::make_intrusive<c10d::ProcessGroupGloo>(store_, rank_, size_, opts);
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, "rank " + std::to_string(rank_) + ": could not join the process group at " + host + ":" +
                                      std::to_string(port) + ": " + e.what());
    }
  }

 private:
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg_;
  int rank_ = 0;
  int size_ = 1;
  std::chrono::milliseconds timeout_{60000};

  std::vector<at::Tensor> Tensors(const Napi::Value& v) {
    Napi::Array a = v.As<Napi::Array>();
    std::vector<at::Tensor> out;
    for (uint32_t i = 0; i < a.Length(); i++) out.push_back(UnwrapTensor(a.Get(i), "process group"));
    return out;
  }

  void Wait(Napi::Env env, const c10::intrusive_ptr<c10d::Work>& work, const char* what) {
    try {
      work->wait(timeout_);
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, std::string(what) + " failed on rank " + std::to_string(rank_) + " of " +
                                      std::to_string(size_) + " (a peer died, hung or timed out): " + e.what());
    }
  }

  // allreduce(tensors[], op: 'sum' | 'max' | 'min' | 'product') — in place.
  Napi::Value Allreduce(const Napi::CallbackInfo& info) {
    auto ts = Tensors(info[0]);
    std::string op = info.Length() > 1 ? info[1].As<Napi::String>().Utf8Value() : "sum";
    c10d::AllreduceOptions o;
    if (op == "sum") o.reduceOp = c10d::ReduceOp::SUM;
    else if (op == "max") o.reduceOp = c10d::ReduceOp::MAX;
    else if (op == "min") o.reduceOp = c10d::ReduceOp::MIN;
    else if (op == "product") o.reduceOp = c10d::ReduceOp::PRODUCT;
    else throw Napi::TypeError::New(info.Env(), "allreduce: op must be sum, max, min or product");
    c10::intrusive_ptr<c10d::Work> work;
    try {
      work = pg_->allreduce(ts, o);
    } catch (const std::exception& e) {
      throw Napi::Error::New(info.Env(), std::string("allreduce: ") + e.what());
    }
    Wait(info.Env(), work, "allreduce");
    return info.Env().Undefined();
  }

  Napi::Value Broadcast(const Napi::CallbackInfo& info) {
    auto ts = Tensors(info[0]);
    c10d::BroadcastOptions o;
    o.rootRank = info[1].As<Napi::Number>().Int32Value();
    c10::intrusive_ptr<c10d::Work> work;
    try {
      work = pg_->broadcast(ts, o);
    } catch (const std::exception& e) {
      throw Napi::Error::New(info.Env(), std::string("broadcast: ") + e.what());
    }
    Wait(info.Env(), work, "broadcast");
    return info.Env().Undefined();
  }

  Napi::Value Barrier(const Napi::CallbackInfo& info) {
    c10::intrusive_ptr<c10d::Work> work;
    try {
      work = pg_->barrier();
    } catch (const std::exception& e) {
      throw Napi::Error::New(info.Env(), std::string("barrier: ") + e.what());
    }
    Wait(info.Env(), work, "barrier");
    return info.Env().Undefined();
  }

  Napi::Value Rank(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), rank_); }
  Napi::Value Size(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), size_); }
};

}  // namespace

void InitDistributed(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeProcessGroup", ProcessGroupWrap::Init(env));
}

}  // namespace streamnest
