// Work splitting for the thread pool. Sparse products are split by nonzeros, not rows: a row
// range's cost is taken as its entries times the batch width plus a small cost per row, and
// boundaries are found by binary search on that monotone prefix, so a few dense rows do not
// leave one thread with most of the work. Small products run as a single task, since waking
// threads costs more than they would save.
#pragma once
#include <cstdint>
#include <vector>

#include "core/thread_pool.h"

namespace sparsenn {

// Below this many multiply-adds a product runs on the calling thread alone. Measured on a 2-vCPU
// VM (bench:models): with 32k, LeNet-300-100 at 90% ran 2.7x slower on 2 threads than on 1 at
// batch 64 (waking the pool and packing X per task cost more than the second thread saved); with
// this threshold 1.6x slower, so the threaded SpMM for mid-sized products still needs work.
constexpr int64_t kParallelMinWork = 1 << 19;
// Tasks per thread: a little over-decomposition lets the dynamic hand-out even out noise and a
// late-waking worker (measured better than one task per thread for the striped SpMM, even
// though each of its tasks packs its own copy of X's stripes).
constexpr int64_t kTasksPerThread = 4;
// Work attributed to a row beyond its entries (loop overhead, the store of its outputs).
constexpr int64_t kRowCost = 4;

class RowSplit {
 public:
  explicit RowSplit(std::vector<int64_t> bounds) : bounds_(std::move(bounds)) {}
  int64_t tasks() const { return static_cast<int64_t>(bounds_.size()) - 1; }
  int64_t begin(int64_t t) const { return bounds_[t]; }
  int64_t end(int64_t t) const { return bounds_[t + 1]; }

 private:
  std::vector<int64_t> bounds_;
};

inline int64_t planned_tasks(int64_t units, int64_t work) {
  const int64_t threads = ThreadPool::instance().threads();
  if (threads <= 1 || work < kParallelMinWork || units <= 1) return 1;
  const int64_t t = threads * kTasksPerThread;
  return t < units ? t : units;
}

// `prefix` is a non-decreasing array of length rows + 1 (CSR row pointers, column counts):
// the entries in rows [0, r) are prefix[r]. `width` multiplies each entry's cost.
template <typename P>
RowSplit split_by_prefix(const P* prefix, int64_t rows, int64_t width) {
  const int64_t w = width < 1 ? 1 : width;
  auto cost = [&](int64_t r) { return (static_cast<int64_t>(prefix[r]) - static_cast<int64_t>(prefix[0])) * w + r * kRowCost; };
  const int64_t total = cost(rows);
  const int64_t tasks = planned_tasks(rows, total);
  std::vector<int64_t> bounds(tasks + 1);
  bounds[0] = 0;
  bounds[tasks] = rows;
  for (int64_t t = 1; t < tasks; ++t) {
    const int64_t target = total / tasks * t + (total % tasks) * t / tasks;
    int64_t lo = bounds[t - 1], hi = rows;  // first r with cost(r) >= target
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (cost(mid) < target) lo = mid + 1;
      else hi = mid;
    }
    bounds[t] = lo;
  }
  return RowSplit(std::move(bounds));
}

// Batch columns [0, n) in ranges of whole `unit`s, one per thread, when the batch holds at least
// one unit per thread; else (or when the work is small) a single range, and the caller splits
// rows instead. For the
// striped SpMMs, whose tasks under a row split would each pack all of X, while under a column
// split each packs only its own columns and every task's weights are read from the shared
// cache. Splitting at whole kernel panels keeps every output computed exactly as by one task.
inline RowSplit split_columns(int64_t n, int64_t unit, int64_t work) {
  const int64_t threads = ThreadPool::instance().threads();
  const int64_t units = unit > 0 ? n / unit : 0;
  const int64_t tasks = threads <= 1 || work < kParallelMinWork || units < threads ? 1 : threads;
  std::vector<int64_t> bounds(tasks + 1);
  for (int64_t t = 0; t < tasks; ++t) bounds[t] = units * t / tasks * unit;
  bounds[tasks] = n;
  return RowSplit(std::move(bounds));
}

// The tasks of a striped SpMM: by batch columns when split_columns splits them (every task then
// runs every row), else by rows (`by_rows()`, computed only then). Task t covers columns
// [j0, j1) of rows [r0, r1).
struct ProductSplit {
  struct Range {
    int64_t j0, j1, r0, r1;
  };
  RowSplit cols, rows;
  int64_t tasks() const { return cols.tasks() * rows.tasks(); }
  Range range(int64_t t) const {
    const int64_t c = t % cols.tasks(), r = t / cols.tasks();
    return {cols.begin(c), cols.end(c), rows.begin(r), rows.end(r)};
  }
};

template <class ByRows>
ProductSplit split_product(int64_t n, int64_t unit, int64_t work, int64_t rows, ByRows by_rows) {
  RowSplit cols = split_columns(n, unit, work);
  RowSplit by = cols.tasks() > 1 ? RowSplit({0, rows}) : by_rows();
  return ProductSplit{std::move(cols), std::move(by)};
}

// Equal-sized ranges of `units` (GEMM panels), `work` deciding whether to split at all.
inline RowSplit split_even(int64_t units, int64_t work) {
  const int64_t tasks = planned_tasks(units, work);
  std::vector<int64_t> bounds(tasks + 1);
  for (int64_t t = 0; t <= tasks; ++t) bounds[t] = units * t / tasks;
  return RowSplit(std::move(bounds));
}

}  // namespace sparsenn
