// Module registration only: the exported functions live in native/binding/.
#include <napi.h>

#include "binding/addon_data.h"
#include "binding/cuda.h"
#include "binding/exports.h"
#include "binding/matrix_handle.h"

namespace sparsenn::binding {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData(data);  // deleted by napi when this environment shuts down
  data->matrix_ctor = Napi::Persistent(MatrixHandle::Define(env));

  const struct {
    const char* name;
    Napi::Value (*fn)(const Napi::CallbackInfo&);
  } functions[] = {
      {"prepareCsr", PrepareCsr},
      {"prepareNm", PrepareNm},
      {"prepareBsr", PrepareBsr},
      {"prepareConv", PrepareConv},
      {"prepareDense", PrepareDense},
      {"csrSetValues", CsrSetValues},
      {"matmul", Matmul},
      {"matmulAsync", MatmulAsync},
      {"matmulTransposed", MatmulTransposed},
      {"matmulTransposedAsync", MatmulTransposedAsync},
      {"sddmm", Sddmm},
      {"sddmmAsync", SddmmAsync},
      {"gemm", Gemm},
      {"gemmAsync", GemmAsync},
      {"transpose", Transpose},
      {"reluForward", ReluForward},
      {"reluForwardAsync", ReluForwardAsync},
      {"reluBackward", ReluBackward},
      {"geluForward", GeluForward},
      {"geluForwardAsync", GeluForwardAsync},
      {"geluBackward", GeluBackward},
      {"gather", Gather},
      {"gatherTranspose", GatherTranspose},
      {"im2col", Im2col},
      {"im2colRows", Im2colRows},
      {"im2colRowsAsync", Im2colRowsAsync},
      {"col2imAdd", Col2imAdd},
      {"maxPoolForward", MaxPoolForward},
      {"maxPoolForwardAsync", MaxPoolForwardAsync},
      {"maxPoolBackward", MaxPoolBackward},
      {"sgdUpdate", SgdUpdate},
      {"adamUpdate", AdamUpdate},
      {"setErrorFactory", SetErrorFactory},
      {"setThreads", SetThreads},
      {"getThreads", GetThreads},
      {"capabilities", Capabilities},
      {"listKernels", ListKernels},
  };
  for (const auto& f : functions) exports.Set(f.name, Napi::Function::New(env, f.fn, f.name));
  RegisterCuda(env, exports);
  return exports;
}

}  // namespace sparsenn::binding

static Napi::Object InitSparsenn(Napi::Env env, Napi::Object exports) {
  return sparsenn::binding::Init(env, exports);
}

NODE_API_MODULE(sparsenn, InitSparsenn)
