// The CUDA backend's exports (CUDA builds only): capabilities, and CudaPlan, the JS handle of
// a layer chain on the device (native/cuda/cuda_api.h). Arguments are checked here exactly as
// for the CPU products; the plan re-validates every CSR before it uploads it. A plan is held
// by shared_ptr with its own mutex: an async run in flight keeps it alive after dispose(), and
// runs on one plan are serialised (they share its stream and scratch buffers).
#include <memory>
#include <mutex>
#include <string>

#include "binding/args.h"
#include "binding/cuda.h"
#include "binding/guard.h"
#include "binding/jobs.h"
#include "cuda/cuda_api.h"

namespace sparsenn::binding {

namespace {

struct SharedPlan {
  std::mutex mutex;
  cuda::Plan plan;
};

class CudaPlanHandle : public Napi::ObjectWrap<CudaPlanHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "CudaPlan",
                       {InstanceMethod<&CudaPlanHandle::AddCsr>("addCsr"), InstanceMethod<&CudaPlanHandle::AddDense>("addDense"),
                        InstanceMethod<&CudaPlanHandle::Run>("run"), InstanceMethod<&CudaPlanHandle::RunAsync>("runAsync"),
                        InstanceMethod<&CudaPlanHandle::Dispose>("dispose"), InstanceMethod<&CudaPlanHandle::Info>("info")});
  }

  explicit CudaPlanHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CudaPlanHandle>(info) {
    guarded(info, [&]() -> Napi::Value {
      const cuda::DeviceInfo d = cuda::device_info();
      if (!d.available) throw_error(info.Env(), "ERR_CUDA", "no CUDA device to build a plan on: " + d.reason);
      plan_ = std::make_shared<SharedPlan>();
      return info.Env().Undefined();
    });
  }

 private:
  std::shared_ptr<SharedPlan> live(const Napi::CallbackInfo& info) {
    if (!plan_) throw_error(info.Env(), "ERR_DISPOSED", "the CUDA plan was disposed");
    return plan_;
  }

  static cuda::Activation activation(const Napi::CallbackInfo& info, size_t i) {
    if (!info[i].IsBoolean()) throw_error(info.Env(), "ERR_TYPE", "relu must be a boolean");
    return info[i].As<Napi::Boolean>().Value() ? cuda::Activation::relu : cuda::Activation::none;
  }

  // addCsr(rows, cols, rowPtr: Int32Array, colIdx: Int32Array, values: Float32Array, bias: Float32Array | null, relu: boolean)
  Napi::Value AddCsr(const Napi::CallbackInfo& info) {
    return guarded(info, [&]() -> Napi::Value {
      auto p = live(info);
      const int64_t rows = get_count(info, 0, "rows", int64_t(1) << 31), cols = get_count(info, 1, "cols", int64_t(1) << 31);
      auto row_ptr = get_array<int32_t>(info, 2, "rowPtr");
      auto col = get_array<int32_t>(info, 3, "colIdx");
      auto val = get_array<float>(info, 4, "values");
      auto bias = get_optional_array<float>(info, 5, "bias");
      const cuda::Activation act = activation(info, 6);
      check_length(info.Env(), row_ptr.ElementLength(), rows + 1, "rowPtr");
      const int64_t nnz = row_ptr.Data()[rows];
      if (nnz < 0) throw_error(info.Env(), "ERR_FORMAT", "rowPtr[rows] must be >= 0, got " + std::to_string(nnz));
      check_length(info.Env(), col.ElementLength(), nnz, "colIdx");
      check_length(info.Env(), val.ElementLength(), nnz, "values");
      if (!bias.IsEmpty()) check_length(info.Env(), bias.ElementLength(), rows, "bias");
      std::lock_guard<std::mutex> lock(p->mutex);
      p->plan.add_csr(rows, cols, row_ptr.Data(), col.Data(), val.Data(), bias.IsEmpty() ? nullptr : bias.Data(), act);
      return info.Env().Undefined();
    });
  }

  // addDense(rows, cols, values: Float32Array (row-major), bias: Float32Array | null, relu: boolean)
  Napi::Value AddDense(const Napi::CallbackInfo& info) {
    return guarded(info, [&]() -> Napi::Value {
      auto p = live(info);
      const int64_t rows = get_count(info, 0, "rows", int64_t(1) << 31), cols = get_count(info, 1, "cols", int64_t(1) << 31);
      auto val = get_array<float>(info, 2, "values");
      auto bias = get_optional_array<float>(info, 3, "bias");
      const cuda::Activation act = activation(info, 4);
      check_length(info.Env(), val.ElementLength(), rows * cols, "values");
      if (!bias.IsEmpty()) check_length(info.Env(), bias.ElementLength(), rows, "bias");
      std::lock_guard<std::mutex> lock(p->mutex);
      p->plan.add_dense(rows, cols, val.Data(), bias.IsEmpty() ? nullptr : bias.Data(), act);
      return info.Env().Undefined();
    });
  }

  // run(x: Float32Array [in x n], n, out: Float32Array [out x n]) → out
  Job parse_run(const Napi::CallbackInfo& info) {
    auto p = live(info);
    auto x = get_array<float>(info, 0, "x");
    const int64_t n = get_count(info, 1, "n", int64_t(1) << 31);
    auto out = get_array<float>(info, 2, "out");
    int64_t in_f, out_f;
    {
      std::lock_guard<std::mutex> lock(p->mutex);
      if (p->plan.layers() == 0) throw_error(info.Env(), "ERR_SHAPE", "the CUDA plan has no layers");
      in_f = p->plan.in_features();
      out_f = p->plan.out_features();
    }
    check_length(info.Env(), x.ElementLength(), in_f * n, "x");
    check_length(info.Env(), out.ElementLength(), out_f * n, "out");
    check_no_alias(info.Env(), out, {x});
    const float* xd = x.Data();
    float* yd = out.Data();
    Job job;
    job.run = [p, xd, n, yd, in_f, out_f] {
      std::lock_guard<std::mutex> lock(p->mutex);
      // A layer added while this run waited would change the sizes x and out were checked for.
      if (p->plan.in_features() != in_f || p->plan.out_features() != out_f)
        fail("ERR_SHAPE", "the CUDA plan's layers changed while the run waited; x and out no longer fit it");
      p->plan.run(xd, n, yd);
    };
    job.result = out;
    job.keep = {x, Value()};
    return job;
  }

  Napi::Value Run(const Napi::CallbackInfo& info) {
    return guarded(info, [&]() -> Napi::Value {
      Job job = parse_run(info);
      job.run();
      return job.result;
    });
  }

  Napi::Value RunAsync(const Napi::CallbackInfo& info) {
    return guarded(info, [&]() -> Napi::Value {
      auto* worker = new JobWorker(info.Env(), parse_run(info));
      Napi::Promise promise = worker->Promise();
      worker->Queue();
      return promise;
    });
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    plan_.reset();  // device memory goes when the last in-flight run ends
    return info.Env().Undefined();
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    return guarded(info, [&]() -> Napi::Value {
      auto p = live(info);
      std::lock_guard<std::mutex> lock(p->mutex);
      Napi::Object o = Napi::Object::New(info.Env());
      o.Set("layers", static_cast<double>(p->plan.layers()));
      o.Set("inFeatures", static_cast<double>(p->plan.in_features()));
      o.Set("outFeatures", static_cast<double>(p->plan.out_features()));
      return o;
    });
  }

  std::shared_ptr<SharedPlan> plan_;
};

Napi::Value BytesInUse(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(cuda::bytes_in_use())); }

}  // namespace

Napi::Object CudaCapabilities(Napi::Env env) {
  const cuda::DeviceInfo d = cuda::device_info();
  Napi::Object o = Napi::Object::New(env);
  o.Set("compiled", true);
  o.Set("available", d.available);
  o.Set("reason", d.available ? env.Null() : Napi::String::New(env, d.reason));
  o.Set("device", d.available ? Napi::String::New(env, d.name) : env.Null());
  o.Set("computeCapability", d.available ? Napi::String::New(env, std::to_string(d.major) + "." + std::to_string(d.minor)) : env.Null());
  o.Set("memoryBytes", d.available ? Napi::Number::New(env, static_cast<double>(d.total_memory)) : env.Null());
  o.Set("runtimeVersion", d.runtime_version);
  o.Set("driverVersion", d.driver_version);
  return o;
}

void RegisterCuda(Napi::Env env, Napi::Object exports) {
  exports.Set("CudaPlan", CudaPlanHandle::Define(env));
  exports.Set("cudaBytesInUse", Napi::Function::New(env, BytesInUse, "cudaBytesInUse"));
}

}  // namespace sparsenn::binding
