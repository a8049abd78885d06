// Runtime information and settings: capabilities(), listKernels(), setThreads(), the error factory.
#include "binding/cuda.h"
#include "binding/exports.h"
#include "binding/guard.h"
#include "core/cpu.h"
#include "core/kernel_table.h"
#include "core/thread_pool.h"

namespace sparsenn::binding {

Napi::Value SetErrorFactory(const Napi::CallbackInfo& info) {
  if (!info[0].IsFunction()) throw_error(info.Env(), "ERR_TYPE", "setErrorFactory expects a function");
  addon_data(info.Env()).error_factory = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  const int64_t n = get_count(info, 0, "threads", 1025);
  if (n < 1) throw_error(info.Env(), "ERR_RANGE", "threads must be an integer in [1, 1024]");
  ThreadPool::instance().set_threads(static_cast<int>(n));
  return info.Env().Undefined();
}

Napi::Value GetThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), ThreadPool::instance().threads());
}

Napi::Value Capabilities(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const CpuFeatures& f = cpu_features();
  const IsaChoice& c = isa_choice();
  Napi::Object features = Napi::Object::New(env);
  features.Set("sse42", f.sse42);
  features.Set("avx", f.avx && f.os_avx);
  features.Set("avx2", f.avx2 && f.os_avx);
  features.Set("fma", f.fma && f.os_avx);
  features.Set("f16c", f.f16c);
  features.Set("avx512f", f.avx512f && f.os_avx512);
  features.Set("avx512bw", f.avx512bw && f.os_avx512);
  features.Set("avx512vl", f.avx512vl && f.os_avx512);
  features.Set("avx512dq", f.avx512dq && f.os_avx512);
  features.Set("neon", f.neon);
  Napi::Array isas = Napi::Array::New(env);
  uint32_t k = 0;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kNeon})
    if (isa_supported(isa)) isas.Set(k++, isa_name(isa));
  Napi::Object o = Napi::Object::New(env);
  o.Set("isa", isa_name(c.isa));
  o.Set("requestedIsa", c.requested.empty() ? env.Null() : Napi::String::New(env, c.requested));
  o.Set("isaNote", c.note.empty() ? env.Null() : Napi::String::New(env, c.note));
  o.Set("supportedIsas", isas);
  o.Set("features", features);
  o.Set("cpuVendor", f.vendor);
  o.Set("cpuModel", f.brand);
  o.Set("threads", ThreadPool::instance().threads());
  o.Set("hardwareThreads", ThreadPool::hardware_threads());
#if SPARSENN_X86
  o.Set("arch", "x64");
#elif SPARSENN_ARM64
  o.Set("arch", "arm64");
#else
  o.Set("arch", "other");
#endif
  o.Set("cuda", CudaCapabilities(env));
  return o;
}

Napi::Value ListKernels(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<KernelInfo> list = list_kernels();
  Napi::Array out = Napi::Array::New(env, list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("op", list[i].slot);
    o.Set("isa", list[i].isa);
    o.Set("name", list[i].name);
    o.Set("tile", list[i].tile);
    o.Set("available", list[i].available);
    o.Set("selected", list[i].selected);
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

}  // namespace sparsenn::binding
