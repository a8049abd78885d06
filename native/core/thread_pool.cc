#include "core/thread_pool.h"

#include <cstdlib>

#if defined(__x86_64__)
#include <immintrin.h>
#define SPARSENN_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define SPARSENN_PAUSE() __asm__ volatile("yield")
#else
#define SPARSENN_PAUSE() ((void)0)
#endif

namespace sparsenn {
namespace {
// Workers spin this many rounds for the next job before sleeping: back-to-back products (a
// layer after a layer) then start without a condition-variable wake-up (tens of microseconds).
constexpr int kSpinRounds = 20000;
}  // namespace

ThreadPool& ThreadPool::instance() {
  static ThreadPool pool;
  return pool;
}

int ThreadPool::hardware_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

ThreadPool::ThreadPool() {
  int n = hardware_threads();
  if (const char* env = std::getenv("SPARSENN_THREADS")) {
    int v = std::atoi(env);
    if (v >= 1 && v <= 1024) n = v;
  }
  threads_.store(n);
  grow_locked();
}

ThreadPool::~ThreadPool() { stop(); }

// Workers are only ever added: lowering the thread count leaves the extra workers asleep (they
// take no part in jobs and do not spin), so switching between counts costs nothing.
void ThreadPool::grow_locked() {
  const int want = threads_.load() - 1;
  for (int i = static_cast<int>(workers_.size()); i < want; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

void ThreadPool::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    quit_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

// Adding workers needs the pool idle. If a job is running (an async product, say), the new
// count is recorded and applied by the next job that finds the pool idle, so the caller (often
// the event loop) never waits for the running product.
void ThreadPool::set_threads(int n) {
  if (n < 1) n = 1;
  threads_.store(n);
  std::unique_lock<std::mutex> job(job_mutex_, std::try_to_lock);
  if (job.owns_lock()) grow_locked();
}

void ThreadPool::run_tasks() {
  const int64_t total = ntasks_;
  for (;;) {
    const int64_t t = next_.fetch_add(1, std::memory_order_relaxed);
    if (t >= total) break;
    (*fn_)(t);
    done_.fetch_add(1, std::memory_order_acq_rel);
  }
}

// A worker joins a job only under mu_ while the job is open, and counts itself in
// active_workers_ before it lets go of the lock. The caller closes the job under mu_ and then
// waits for active_workers_ to drain, so no worker can ever touch a finished job's function or
// counters, and the next job's reset cannot race with a late worker.
void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  for (;;) {
    int spins = 0;
    // Only workers the current thread count uses spin for the next job; the rest sleep.
    if (index < job_workers_.load(std::memory_order_relaxed)) {
      while (published_.load(std::memory_order_acquire) == seen && spins < kSpinRounds) {
        SPARSENN_PAUSE();
        ++spins;
      }
    }
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return quit_ || (job_open_ && generation_ != seen && index < job_workers_.load()); });
    if (quit_) return;
    seen = generation_;
    active_workers_.fetch_add(1, std::memory_order_acq_rel);
    lock.unlock();
    run_tasks();
    active_workers_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::parallel_for(int64_t ntasks, const std::function<void(int64_t)>& fn) {
  if (ntasks <= 0) return;
  std::unique_lock<std::mutex> job(job_mutex_, std::try_to_lock);
  if (job.owns_lock()) grow_locked();
  if (ntasks == 1 || threads_.load() == 1 || !job.owns_lock()) {
    for (int64_t t = 0; t < ntasks; ++t) fn(t);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    fn_ = &fn;
    ntasks_ = ntasks;
    next_.store(0, std::memory_order_relaxed);
    done_.store(0, std::memory_order_relaxed);
    ++generation_;
    job_workers_.store(threads_.load() - 1);
    job_open_ = true;
    published_.store(generation_, std::memory_order_release);
  }
  cv_.notify_all();
  run_tasks();
  while (done_.load(std::memory_order_acquire) < ntasks) SPARSENN_PAUSE();
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_open_ = false;
  }
  while (active_workers_.load(std::memory_order_acquire) != 0) SPARSENN_PAUSE();
}

}  // namespace sparsenn
