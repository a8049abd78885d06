// A process-wide pool of worker threads for the kernels. One parallel job runs at a time; the
// calling thread takes part in it. A caller that finds the pool busy (another product running
// from an async worker, say) runs its job on its own thread instead of waiting, so a
// synchronous call on the event loop never queues behind a large asynchronous one.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace sparsenn {

class ThreadPool {
 public:
  static ThreadPool& instance();
  ~ThreadPool();

  // Total threads a job may use, the caller included (>= 1). Never waits for a running job.
  void set_threads(int n);
  int threads() const { return threads_.load(); }
  static int hardware_threads();

  // Calls fn(task) once for every task in [0, ntasks); tasks are handed out dynamically.
  void parallel_for(int64_t ntasks, const std::function<void(int64_t)>& fn);

 private:
  ThreadPool();
  void grow_locked();  // add workers up to threads_ - 1 (job_mutex_ held, or construction)
  void stop();
  void worker_loop(int index);
  void run_tasks();

  std::atomic<int> threads_{1};
  std::vector<std::thread> workers_;
  std::mutex job_mutex_;  // held by the one caller whose job is running
  std::mutex mu_;
  std::condition_variable cv_;
  bool quit_ = false;
  bool job_open_ = false;
  uint64_t generation_ = 0;
  std::atomic<uint64_t> published_{0};
  const std::function<void(int64_t)>* fn_ = nullptr;
  int64_t ntasks_ = 0;
  std::atomic<int64_t> next_{0};
  std::atomic<int64_t> done_{0};
  std::atomic<int> active_workers_{0};
  std::atomic<int> job_workers_{0};  // workers (by index) that take part in jobs: threads_ - 1
};

}  // namespace sparsenn
