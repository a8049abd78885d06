// The two tiers of native work (better-sqlite3's sync design): a binding parses and checks its
// arguments on the JS thread into a Job, then runs it inline (run_sync) or on a libuv worker
// thread (run_async, Napi::AsyncWorker + Promise), which holds references to every array and
// handle the job touches until the promise settles, so none can be collected mid-job. The
// result is the job's output array.
#pragma once
#include <napi.h>

#include <functional>
#include <new>
#include <string>
#include <vector>

#include "binding/guard.h"
#include "core/error.h"

namespace sparsenn::binding {

struct Job {
  std::function<void()> run;
  Napi::Value result;             // an object (the output array)
  std::vector<Napi::Value> keep;  // kept alive until an async job ends
};

class JobWorker : public Napi::AsyncWorker {
 public:
  JobWorker(Napi::Env env, Job job)
      : Napi::AsyncWorker(env, "sparsenn:job"), deferred_(Napi::Promise::Deferred::New(env)), run_(std::move(job.run)) {
    result_ = Napi::Persistent(job.result.As<Napi::Object>());
    for (const Napi::Value& v : job.keep) keep_.push_back(Napi::Persistent(v.As<Napi::Object>()));
  }
  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      run_();
    } catch (const CoreError& e) {
      code_ = e.code();
      SetError(e.what());
    } catch (const std::bad_alloc&) {
      code_ = "ERR_MEMORY";
      SetError("out of memory during a native job");
    } catch (const std::exception& e) {
      // Anything else escaping on a libuv thread would end the process.
      code_ = "ERR_INTERNAL";
      SetError(std::string("native job failed: ") + e.what());
    }
  }
  // Settling can throw when the environment is shutting down (a worker thread terminated while
  // this job ran): nothing is waiting for the promise then, and an exception escaping here
  // would abort the process.
  void OnOK() override {
    try {
      deferred_.Resolve(result_.Value());
    } catch (const Napi::Error&) {
    }
  }
  void OnError(const Napi::Error& e) override {
    try {
      deferred_.Reject(make_error(Env(), code_, e.Message()).Value());
    } catch (const Napi::Error&) {
    }
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::function<void()> run_;
  Napi::ObjectReference result_;
  std::vector<Napi::ObjectReference> keep_;
  std::string code_ = "ERR_INTERNAL";
};

inline Napi::Value run_sync(const Napi::CallbackInfo& info, Job (*parse)(const Napi::CallbackInfo&)) {
  return guarded(info, [&]() -> Napi::Value {
    Job job = parse(info);
    job.run();
    return job.result;
  });
}

inline Napi::Value run_async(const Napi::CallbackInfo& info, Job (*parse)(const Napi::CallbackInfo&)) {
  return guarded(info, [&]() -> Napi::Value {
    auto* worker = new JobWorker(info.Env(), parse(info));
    Napi::Promise promise = worker->Promise();
    worker->Queue();  // the worker deletes itself after OnOK/OnError
    return promise;
  });
}

}  // namespace sparsenn::binding
