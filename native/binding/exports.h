// Every function the addon exports (registered in native/addon.cc; typed in lib/native.ts).
#pragma once
#include <napi.h>

namespace sparsenn::binding {

Napi::Value PrepareCsr(const Napi::CallbackInfo& info);
Napi::Value PrepareNm(const Napi::CallbackInfo& info);
Napi::Value PrepareBsr(const Napi::CallbackInfo& info);
Napi::Value PrepareDense(const Napi::CallbackInfo& info);
Napi::Value PrepareConv(const Napi::CallbackInfo& info);
Napi::Value CsrSetValues(const Napi::CallbackInfo& info);

Napi::Value Matmul(const Napi::CallbackInfo& info);
Napi::Value MatmulAsync(const Napi::CallbackInfo& info);
Napi::Value MatmulTransposed(const Napi::CallbackInfo& info);
Napi::Value MatmulTransposedAsync(const Napi::CallbackInfo& info);
Napi::Value Sddmm(const Napi::CallbackInfo& info);
Napi::Value SddmmAsync(const Napi::CallbackInfo& info);
Napi::Value Gemm(const Napi::CallbackInfo& info);
Napi::Value GemmAsync(const Napi::CallbackInfo& info);
Napi::Value Transpose(const Napi::CallbackInfo& info);
Napi::Value ReluForward(const Napi::CallbackInfo& info);
Napi::Value ReluForwardAsync(const Napi::CallbackInfo& info);
Napi::Value ReluBackward(const Napi::CallbackInfo& info);
Napi::Value GeluForward(const Napi::CallbackInfo& info);
Napi::Value GeluForwardAsync(const Napi::CallbackInfo& info);
Napi::Value GeluBackward(const Napi::CallbackInfo& info);
Napi::Value Gather(const Napi::CallbackInfo& info);
Napi::Value GatherTranspose(const Napi::CallbackInfo& info);
Napi::Value Im2col(const Napi::CallbackInfo& info);
Napi::Value Im2colRows(const Napi::CallbackInfo& info);
Napi::Value Im2colRowsAsync(const Napi::CallbackInfo& info);
Napi::Value Col2imAdd(const Napi::CallbackInfo& info);
Napi::Value MaxPoolForward(const Napi::CallbackInfo& info);
Napi::Value MaxPoolForwardAsync(const Napi::CallbackInfo& info);
Napi::Value MaxPoolBackward(const Napi::CallbackInfo& info);
Napi::Value SgdUpdate(const Napi::CallbackInfo& info);
Napi::Value AdamUpdate(const Napi::CallbackInfo& info);

Napi::Value SetErrorFactory(const Napi::CallbackInfo& info);
Napi::Value SetThreads(const Napi::CallbackInfo& info);
Napi::Value GetThreads(const Napi::CallbackInfo& info);
Napi::Value Capabilities(const Napi::CallbackInfo& info);
Napi::Value ListKernels(const Napi::CallbackInfo& info);

}  // namespace sparsenn::binding
