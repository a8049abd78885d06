#include "binding/matrix_handle.h"

#include "binding/addon_data.h"
#include "binding/args.h"

namespace sparsenn::binding {

Napi::Function MatrixHandle::Define(Napi::Env env) {
  return DefineClass(env, "NativeMatrix",
                     {InstanceMethod<&MatrixHandle::Dispose>("dispose"),
                      InstanceMethod<&MatrixHandle::Info>("info")});
}

MatrixHandle::MatrixHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<MatrixHandle>(info), env_(info.Env()) {}

MatrixHandle::~MatrixHandle() {
  if (reported_ != 0 && env_ != nullptr) Napi::MemoryManagement::AdjustExternalMemory(Napi::Env(env_), -reported_);
}

Napi::Object MatrixHandle::Wrap(Napi::Env env, std::shared_ptr<PreparedMatrix> m) {
  Napi::Object obj = addon_data(env).matrix_ctor.New({});
  MatrixHandle* h = Unwrap(obj);
  h->reported_ = static_cast<int64_t>(m->bytes());
  h->matrix_ = std::move(m);
  Napi::MemoryManagement::AdjustExternalMemory(env, h->reported_);
  return obj;
}

std::shared_ptr<PreparedMatrix> MatrixHandle::From(const Napi::CallbackInfo& info, size_t i) {
  Napi::Env env = info.Env();
  Napi::Value v = info[i];
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(addon_data(env).matrix_ctor.Value()))
    throw_error(env, "ERR_TYPE", "expected a native matrix handle (create matrices with CsrMatrix, NmMatrix, BsrMatrix or Matrix)");
  MatrixHandle* h = Unwrap(v.As<Napi::Object>());
  if (!h->matrix_) throw_error(env, "ERR_DISPOSED", "the matrix was disposed; create it again to use it");
  return h->matrix_;
}

void MatrixHandle::Report(const Napi::CallbackInfo& info, size_t i) {
  MatrixHandle* h = Unwrap(info[i].As<Napi::Object>());
  if (!h->matrix_) return;
  const int64_t now = static_cast<int64_t>(h->matrix_->bytes());
  if (now != h->reported_) Napi::MemoryManagement::AdjustExternalMemory(info.Env(), now - h->reported_);
  h->reported_ = now;
}

void MatrixHandle::Release(Napi::Env env) {
  if (reported_ != 0) Napi::MemoryManagement::AdjustExternalMemory(env, -reported_);
  reported_ = 0;
  matrix_.reset();
}

Napi::Value MatrixHandle::Dispose(const Napi::CallbackInfo& info) {
  Release(info.Env());
  return info.Env().Undefined();
}

Napi::Value MatrixHandle::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("disposed", Napi::Boolean::New(env, !matrix_));
  if (matrix_) {
    o.Set("format", Napi::String::New(env, matrix_->format()));
    o.Set("rows", Napi::Number::New(env, static_cast<double>(matrix_->rows())));
    o.Set("cols", Napi::Number::New(env, static_cast<double>(matrix_->cols())));
    o.Set("nativeBytes", Napi::Number::New(env, static_cast<double>(matrix_->bytes())));
  }
  return o;
}

}  // namespace sparsenn::binding
