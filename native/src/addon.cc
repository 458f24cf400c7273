// streamnest's N-API addon: tensors, the ATen operator dispatcher, autograd, autocast and runtime settings.
#include <napi.h>

#include "autocast.h"
#include "cpu-allocator.h"
#include "dispatch.h"
#include "distributed.h"
#include "generator.h"
#include "runtime.h"
#include "tensor.h"

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new streamnest::AddonData());
  streamnest::InitTensors(env, exports);
  exports.Set("NativeGenerator", streamnest::GeneratorWrap::Init(env));
  streamnest::InitDispatch(env, exports);
  streamnest::InitRuntime(env, exports);
  streamnest::InitAutocast(env, exports);
  streamnest::InitCpuAllocator(env, exports);
  streamnest::InitDistributed(env, exports);
  return exports;
}

NODE_API_MODULE(streamnest, Init)
