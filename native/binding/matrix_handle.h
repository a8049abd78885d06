// The JS object that owns a prepared matrix (core/prepared.h). Created only by the prepare*
// functions; lib/ wraps it in CsrMatrix / NmMatrix / BsrMatrix / Matrix. The prepared matrix is
// held by shared_ptr so an async product in flight keeps it alive even if the handle is
// disposed or collected meanwhile.
#pragma once
#include <napi.h>

#include <memory>

#include "core/prepared.h"

namespace sparsenn::binding {

class MatrixHandle : public Napi::ObjectWrap<MatrixHandle> {
 public:
  static Napi::Function Define(Napi::Env env);
  static Napi::Object Wrap(Napi::Env env, std::shared_ptr<PreparedMatrix> m);
  // The handle at argument i (ERR_TYPE if it is not one, ERR_DISPOSED if it was disposed).
  static std::shared_ptr<PreparedMatrix> From(const Napi::CallbackInfo& info, size_t i);

  // Re-reads the native size of the handle at argument i after its matrix grew or shrank.
  static void Report(const Napi::CallbackInfo& info, size_t i);

  explicit MatrixHandle(const Napi::CallbackInfo& info);
  ~MatrixHandle() override;

 private:
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  void Release(Napi::Env env);

  std::shared_ptr<PreparedMatrix> matrix_;
  int64_t reported_ = 0;
  napi_env env_ = nullptr;
};

}  // namespace sparsenn::binding
