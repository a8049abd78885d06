// Native test driver for the kernels and the core (no Node, no N-API).
//
// 1. Every kernel of every ISA that is compiled into this build and that this CPU runs is
//    checked against a float64 reference (plain loops over a dense double copy) on seeded
//    pseudo-random cases: empty matrices, zero nnz, empty rows mixed with full rows, 1x1,
//    sizes that are not multiples of any vector width, batch widths 1..257, sparsity 0 to
//    0.999, more than 65535 columns for the int32-index kernels, with and without bias and
//    ReLU, and partial row/panel/column ranges whose outside must stay untouched.
//    The SpMM kernels read column-striped matrices (ukernels.h); the driver builds those
//    itself with several stripe widths, independently of core/prepared.cc.
//    The kernels come from the X-macro list (kernels/all-kernels.inc): every ISA line is
//    picked up automatically, and a new slot without a test_<slot>() below fails the build.
// 2. The prepared path (prepare_csr/nm/bsr/dense + multiply, multiply_transposed, sddmm) for
//    the process's ISA (SPARSENN_ISA or the best available) on 1 and 2 threads, with identical
//    results on both; Inf/NaN in X reaching only the rows that reference them; an all-zero
//    matrix staying small.
// 3. Invalid inputs to prepare_* throw CoreError with the right code.
// 4. The ISA choice, kernels(), kernels_for() and list_kernels() agree with each other.
//
// Prints one line per failing case and ends with "N passed, N failed"; exits 1 on failure.
// Options: --list-isas (print the ISAs this binary will test and exit), --prepared-only
// (skip part 1), --seed=N (or KERNEL_TEST_SEED=N), --verbose (print each case before running
// it, to find the one that crashes). Build and run: scripts/test-native.sh, scripts/test-neon.sh.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/cpu.h"
#include "core/error.h"
#include "core/kernel_table.h"
#include "core/partition.h"
#include "core/prepared.h"
#include "core/sparse_conv.h"
#include "core/thread_pool.h"
#include "kernels/ukernels.h"
#include "test/test_util.h"

namespace sparsenn::test {
namespace {

// The ISA tokens of the X-macro list. A new token without a constant here fails the build.
constexpr Isa isa_of_scalar = Isa::kScalar, isa_of_avx2 = Isa::kAvx2, isa_of_avx512 = Isa::kAvx512,
              isa_of_neon = Isa::kNeon;
constexpr Isa kAllIsas[] = {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kNeon};

Report g_report;
uint64_t g_seed = 0x5eed2024c0ffee11ull;
bool g_verbose = false;

// With --verbose, names each case before it runs (a crash then points at its case).
void trace(const std::string& what) {
  if (!g_verbose) return;
  std::printf("RUN %s\n", what.c_str());
  std::fflush(stdout);
}

std::string str(int64_t v) { return std::to_string(v); }

bool isa_compiled(Isa isa) {
  bool any = false;
#define SPARSENN_UKERNEL(slot, isa_token, fn, tile) any = any || isa_of_##isa_token == isa;
#include "kernels/all-kernels.inc"
#undef SPARSENN_UKERNEL
  return any;
}

template <class F>
struct Kernel {
  Isa isa;
  const char* slot;
  const char* name;
  const char* tile;
  F* fn;
  std::string label() const { return std::string("[") + isa_name(isa) + "] " + slot + " " + name; }
};

// ------------------------------------------------------------------ epilogues

struct EpCase {
  bool bias, relu;
  const char* name;
};
constexpr EpCase kEps[4] = {{false, false, "no epilogue"}, {true, false, "bias"}, {false, true, "relu"},
                            {true, true, "bias+relu"}};

Epilogue epilogue(int e, const In& bias) { return Epilogue{kEps[e].bias ? bias.data() : nullptr, kEps[e].relu}; }

// The reference of each epilogue variant from the product's reference (rows x n).
struct EpRefs {
  std::vector<double> ref[4], mag[4];
};
EpRefs make_ep_refs(const std::vector<double>& pre, const std::vector<double>& premag, int64_t rows, int64_t n,
                    const In& bias) {
  EpRefs out;
  for (int e = 0; e < 4; ++e) {
    out.ref[e] = pre;
    out.mag[e] = premag;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < n; ++j) {
        double& v = out.ref[e][r * n + j];
        if (kEps[e].bias) {
          v += bias[r];
          out.mag[e][r * n + j] += std::fabs(bias[r]);
        }
        if (kEps[e].relu && v < 0) v = 0;
      }
  }
  return out;
}

// ------------------------------------------------------------------ matrices and references

In random_in(int64_t n, Rng& rng) {
  In a(n);
  for (int64_t i = 0; i < n; ++i) a[i] = rng.value();
  return a;
}

// Y = A X (A rows x cols dense double, X cols x n): the reference and the magnitude of its terms.
void ref_matmul(const std::vector<double>& a, int64_t rows, int64_t cols, const In& x, int64_t n,
                std::vector<double>& ref, std::vector<double>& mag) {
  ref.assign(static_cast<size_t>(rows * n), 0.0);
  mag.assign(static_cast<size_t>(rows * n), 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < cols; ++k) {
      const double v = a[r * cols + k];
      if (v == 0) continue;
      for (int64_t j = 0; j < n; ++j) {
        const double t = v * x[k * n + j];
        ref[r * n + j] += t;
        mag[r * n + j] += std::fabs(t);
      }
    }
}

// Y = A^T X (X rows x n, Y cols x n).
void ref_matmul_t(const std::vector<double>& a, int64_t rows, int64_t cols, const In& x, int64_t n,
                  std::vector<double>& ref, std::vector<double>& mag) {
  ref.assign(static_cast<size_t>(cols * n), 0.0);
  mag.assign(static_cast<size_t>(cols * n), 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < cols; ++k) {
      const double v = a[r * cols + k];
      if (v == 0) continue;
      for (int64_t j = 0; j < n; ++j) {
        const double t = v * x[r * n + j];
        ref[k * n + j] += t;
        mag[k * n + j] += std::fabs(t);
      }
    }
}

struct Csr {
  int64_t rows = 0, cols = 0;
  std::vector<int32_t> rowptr{0};
  std::vector<int32_t> col;
  std::vector<float> val;
  int64_t nnz() const { return static_cast<int64_t>(val.size()); }
  std::vector<double> dense() const {
    std::vector<double> d(static_cast<size_t>(rows * cols), 0.0);
    for (int64_t r = 0; r < rows; ++r)
      for (int32_t p = rowptr[r]; p < rowptr[r + 1]; ++p) d[r * cols + col[p]] = val[p];
    return d;
  }
};

// How the stored entries are laid out: independently at random, or (mixed) rows that are
// alternately empty, full and random.
enum class Pattern { kRandom, kMixed };
struct Density {
  double sparsity;
  Pattern pattern;
  const char* name;
};
const Density kDensities[] = {
    {0.0, Pattern::kRandom, "sparsity 0"},
    {0.5, Pattern::kRandom, "sparsity 0.5"},
    {0.5, Pattern::kMixed, "sparsity 0.5, empty and full rows"},
    {0.9, Pattern::kRandom, "sparsity 0.9"},
    {0.9, Pattern::kMixed, "sparsity 0.9, empty and full rows"},
    {0.999, Pattern::kRandom, "sparsity 0.999"},
    {0.999, Pattern::kMixed, "sparsity 0.999, empty and full rows"},
    {1.0, Pattern::kRandom, "0 nnz"},
};

// kind of row/block row r: 0 empty, 1 full, 2 random
int row_kind(Pattern pat, int64_t r) { return pat == Pattern::kMixed ? static_cast<int>(r % 3) : 2; }

Csr random_csr(int64_t rows, int64_t cols, const Density& d, Rng& rng) {
  Csr a;
  a.rows = rows;
  a.cols = cols;
  a.rowptr.assign(static_cast<size_t>(rows + 1), 0);
  for (int64_t r = 0; r < rows; ++r) {
    const int kind = row_kind(d.pattern, r);
    for (int64_t c = 0; c < cols; ++c) {
      bool keep = kind == 1 || (kind == 2 && rng.uniform() >= d.sparsity);
      // The largest column index always occurs (unless the matrix has no entries at all), so
      // the index-width boundaries (65535, 65536) are really exercised.
      if (kind == 2 && d.sparsity < 1.0 && r == rows - 1 && c == cols - 1) keep = true;
      if (keep) {
        a.col.push_back(static_cast<int32_t>(c));
        a.val.push_back(rng.value());
      }
    }
    a.rowptr[r + 1] = static_cast<int32_t>(a.col.size());
  }
  return a;
}

std::string csr_desc(const Csr& a, const Density& d, int64_t n) {
  return "A " + str(a.rows) + "x" + str(a.cols) + " nnz=" + str(a.nnz()) + " (" + d.name + ") n=" + str(n);
}

// Matrix shapes of the CSR kernels: u16-index slots only up to 65536 columns (indices up to
// 65535), i32-index slots also beyond.
std::vector<std::pair<int64_t, int64_t>> csr_shapes(bool narrow) {
  std::vector<std::pair<int64_t, int64_t>> s = {{0, 0},   {0, 9},   {5, 0},    {1, 1},    {3, 5},
                                                 {17, 13}, {40, 33}, {33, 100}, {64, 257}, {6, 1000}};
  if (narrow) s.push_back({3, 65536});
  else {
    s.push_back({3, 70000});
    s.push_back({2, 131073});
  }
  return s;
}
const int64_t kBatches[] = {1, 2, 7, 8, 16, 33, 64, 100, 257};
// Batch widths for a matrix shape: every width whose product stays small (rows * cols * n up
// to kBatchBudget), plus one of the larger widths, rotating with `variant`, so that every width
// meets large shapes too without the cross product costing minutes under qemu. Wide matrices
// are there for the index range: n in {1, 7} only.
constexpr int64_t kBatchBudget = int64_t(1) << 19;
std::vector<int64_t> batches(int64_t rows, int64_t cols, int64_t variant) {
  const std::vector<int64_t> all = cols >= 65536 ? std::vector<int64_t>{1, 7}
                                                 : std::vector<int64_t>(std::begin(kBatches), std::end(kBatches));
  std::vector<int64_t> out, rest;
  for (int64_t n : all) (std::max<int64_t>(rows * cols, 1) * n <= kBatchBudget ? out : rest).push_back(n);
  if (!rest.empty()) out.push_back(rest[static_cast<size_t>(variant) % rest.size()]);
  return out;
}
// Densities of a shape: one is enough when the matrix has no room for entries; matrices with
// 65536 columns or more (there for the index range) get three, the smaller ones every one.
std::vector<Density> densities(int64_t rows, int64_t cols) {
  if (rows == 0 || cols == 0) return {kDensities[0]};
  if (cols >= 65536) return {kDensities[1], kDensities[4], kDensities[5]};
  return std::vector<Density>(std::begin(kDensities), std::end(kDensities));
}

// A partial range of `units` rows/blocks/panels: starts after 0 and ends before the end.
std::pair<int64_t, int64_t> partial_range(int64_t units) {
  int64_t u0 = 1 + units / 5, u1 = units - 1 - units / 7;
  if (u1 <= u0) u1 = u0 + 1;
  return {u0, u1};
}

// Runs a kernel that writes whole output rows (csrspmm, csrspmv, bsrspmm, gemm, gemv) over
// units of `unit_rows` rows each (rows, block rows or panels): the full range with each
// epilogue, a partial range (the rows outside must stay untouched), and an empty range.
// call(y, u0, u1, ep) runs the kernel.
template <class Call>
void run_rows(const std::string& label, const std::string& desc, const char* unit, int64_t rows, int64_t n,
              int64_t units, int64_t unit_rows, const EpRefs& refs, const In& bias, int64_t variant, Call call) {
  Out y(rows * n, 37 + 8 * n);  // guards: a block row (up to 8 rows) past either end
  for (int e = 0; e < 4; ++e) {
    y.fill_sentinel();
    y.snapshot();
    trace(label + " " + desc + " " + kEps[e].name);
    call(y.data(), 0, units, epilogue(e, bias));
    g_report.record(label + " " + desc + " " + kEps[e].name + " " + unit + " [0," + str(units) + ")",
                    check(y, 0, rows * n, refs.ref[e], refs.mag[e], n));
  }
  if (units >= 3) {
    const int e = static_cast<int>(variant % 4);
    const auto [u0, u1] = partial_range(units);
    y.fill_sentinel();
    y.snapshot();
    trace(label + " " + desc + " partial range");
    call(y.data(), u0, u1, epilogue(e, bias));
    const int64_t lo = std::min(u0 * unit_rows, rows) * n, hi = std::min(u1 * unit_rows, rows) * n;
    g_report.record(label + " " + desc + " " + kEps[e].name + " " + unit + " [" + str(u0) + "," + str(u1) + ")",
                    check(y, lo, hi, refs.ref[e], refs.mag[e], n));
  }
  if (units >= 1) {
    const int64_t u = units / 2;
    y.fill_sentinel();
    y.snapshot();
    call(y.data(), u, u, epilogue(3, bias));
    g_report.record(label + " " + desc + " empty " + unit + " range [" + str(u) + "," + str(u) + ")",
                    check(y, 0, 0, refs.ref[3], refs.mag[3], n));
  }
}

// ------------------------------------------------------------------ csrspmv

template <typename Idx>
void test_csrspmv(const std::vector<Kernel<csrspmv_fn<Idx>>>& ks, const char* slot) {
  if (ks.empty()) return;
  constexpr bool narrow = sizeof(Idx) == 2;
  Rng rng(g_seed ^ hash_str(slot));
  int64_t variant = 0;
  for (const auto& shape : csr_shapes(narrow))
    for (const Density& d : densities(shape.first, shape.second)) {
      const int64_t rows = shape.first, cols = shape.second;
      const Csr a = random_csr(rows, cols, d, rng);
      const std::vector<Idx> col(a.col.begin(), a.col.end());
      const In x = random_in(cols, rng), bias = random_in(rows, rng);
      std::vector<double> pre, mag;
      ref_matmul(a.dense(), rows, cols, x, 1, pre, mag);
      const EpRefs refs = make_ep_refs(pre, mag, rows, 1, bias);
      for (const auto& k : ks)
        run_rows(k.label(), csr_desc(a, d, 1), "rows", rows, 1, rows, 1, refs, bias, variant,
                 [&](float* y, int64_t r0, int64_t r1, Epilogue ep) {
                   k.fn(a.rowptr.data(), col.data(), a.val.data(), x.data(), y, r0, r1, ep);
                 });
      ++variant;
    }
}

void test_csrspmv_i32(const std::vector<Kernel<csrspmv_i32_t>>& ks) { test_csrspmv<int32_t>(ks, "csrspmv_i32"); }
void test_csrspmv_u16(const std::vector<Kernel<csrspmv_u16_t>>& ks) { test_csrspmv<uint16_t>(ks, "csrspmv_u16"); }

// ------------------------------------------------------------------ csrspmm (column-striped CSR)

// The striped form the csrspmm kernel reads (see ukernels.h): stripe s holds columns
// [s * kb, (s + 1) * kb) as a CSR of its own with stripe-local 16-bit column indices, its row
// pointers at srowptr[s * (rows + 1) ...], offsets into one shared col/val array; every
// stripe-row is padded to a multiple of kStripePad entries with zero values at local column kb
// (the kernel maps it to a zero row of its packed X).
struct Striped {
  int32_t stripes = 0, kb = 1;
  std::vector<int32_t> srowptr;
  std::vector<uint16_t> col;
  std::vector<float> val;
};

Striped stripe_csr(const Csr& a, int32_t kb) {
  Striped s;
  s.kb = kb;
  s.stripes = static_cast<int32_t>((a.cols + kb - 1) / kb);
  s.srowptr.assign(static_cast<size_t>(s.stripes) * (a.rows + 1), 0);
  std::vector<int32_t> next(a.rowptr.begin(), a.rowptr.end() - 1);  // per row: first entry not yet placed
  for (int32_t st = 0; st < s.stripes; ++st) {
    int32_t* rp = s.srowptr.data() + static_cast<size_t>(st) * (a.rows + 1);
    rp[0] = static_cast<int32_t>(s.col.size());
    for (int64_t r = 0; r < a.rows; ++r) {
      for (int32_t& p = next[r]; p < a.rowptr[r + 1] && a.col[p] < static_cast<int64_t>(st + 1) * kb; ++p) {
        s.col.push_back(static_cast<uint16_t>(a.col[p] - static_cast<int64_t>(st) * kb));
        s.val.push_back(a.val[p]);
      }
      while ((s.col.size() - rp[r]) % kStripePad != 0) {
        s.col.push_back(static_cast<uint16_t>(kb));
        s.val.push_back(0.f);
      }
      rp[r + 1] = static_cast<int32_t>(s.col.size());
    }
  }
  return s;
}

// Stripe widths to try for a column count: 1 <= kb <= min(cols, 65535), as prepare_* builds
// them; several stripes with a partial last one, one stripe, and the 16-bit limit.
std::vector<int32_t> stripe_widths(int64_t cols) {
  if (cols == 0) return {1};
  std::vector<int32_t> out;
  for (int64_t kb : {int64_t(1), int64_t(7), int64_t(64), int64_t(1000), cols, int64_t(65535)})
    if (kb <= cols && kb <= 65535 && (cols <= 4096 || kb >= 1000) &&
        std::find(out.begin(), out.end(), kb) == out.end())
      out.push_back(static_cast<int32_t>(kb));
  return out;
}

void test_csrspmm(const std::vector<Kernel<csrspmm_t>>& ks) {
  if (ks.empty()) return;
  for (const auto& k : ks) {  // the tile's NR is what the table reports to the preparation
    const char* xpos = std::strchr(k.tile, 'x');
    const int nr = xpos ? std::atoi(xpos + 1) : 0;
    g_report.record(k.label() + " tile \"" + k.tile + "\" panel width",
                    nr == kernels_for(k.isa).csrspmm_nr
                        ? ""
                        : "tile says " + str(nr) + " but the table's csrspmm_nr is " + str(kernels_for(k.isa).csrspmm_nr));
  }
  Rng rng(g_seed ^ hash_str("csrspmm"));
  int64_t variant = 0;
  std::vector<std::pair<int64_t, int64_t>> shapes = csr_shapes(false);
  shapes.push_back({3, 65536});  // stripes of 65535 columns leave a one-column last stripe
  int64_t rotation = 0;
  for (const auto& shape : shapes)
    for (const Density& d : densities(shape.first, shape.second))
      for (int64_t n : batches(shape.first, shape.second, rotation++)) {
        const int64_t rows = shape.first, cols = shape.second;
        const Csr a = random_csr(rows, cols, d, rng);
        const In x = random_in(cols * n, rng), bias = random_in(rows, rng);
        std::vector<double> pre, mag;
        ref_matmul(a.dense(), rows, cols, x, n, pre, mag);
        const EpRefs refs = make_ep_refs(pre, mag, rows, n, bias);
        const std::vector<int32_t> widths = stripe_widths(cols);
        // Every stripe width for n <= 8, one (rotating) for wider batches.
        for (size_t w = 0; w < widths.size(); ++w) {
          if (n > 8 && w != static_cast<size_t>(variant) % widths.size()) continue;
          const Striped st = stripe_csr(a, widths[w]);
          const std::string desc = csr_desc(a, d, n) + " stripes " + str(st.stripes) + " of " + str(st.kb) + " columns";
          for (const auto& k : ks)
            run_rows(k.label(), desc, "rows", rows, n, rows, 1, refs, bias, variant,
                     [&](float* y, int64_t r0, int64_t r1, Epilogue ep) {
                       k.fn(st.srowptr.data(), st.stripes, st.kb, rows, cols, st.col.data(), st.val.data(), x.data(), n, n, y,
                            r0, r1, ep);
                     });
        }
        ++variant;
      }
}

// ------------------------------------------------------------------ csrspmmt

template <typename Idx>
void test_csrspmmt(const std::vector<Kernel<csrspmmt_fn<Idx>>>& ks, const char* slot) {
  if (ks.empty()) return;
  constexpr bool narrow = sizeof(Idx) == 2;
  Rng rng(g_seed ^ hash_str(slot));
  int64_t rotation = 0;
  for (const auto& shape : csr_shapes(narrow))
    for (const Density& d : densities(shape.first, shape.second))
      for (int64_t n : batches(shape.first, shape.second, rotation++)) {
        const int64_t rows = shape.first, cols = shape.second;
        const Csr a = random_csr(rows, cols, d, rng);
        const std::vector<Idx> col(a.col.begin(), a.col.end());
        const In x = random_in(rows * n, rng), y0 = random_in(cols * n, rng);
        std::vector<double> ref, mag;
        ref_matmul_t(a.dense(), rows, cols, x, n, ref, mag);
        std::vector<double> ref_acc = ref, mag_acc = mag;  // y0 + A^T X
        for (int64_t i = 0; i < cols * n; ++i) {
          ref_acc[i] += y0[i];
          mag_acc[i] += std::fabs(y0[i]);
        }
        const std::string desc = csr_desc(a, d, n);
        const int64_t kk = cols;
        const std::pair<int64_t, int64_t> slice = kk >= 3 ? partial_range(kk) : std::pair<int64_t, int64_t>{kk / 2, kk / 2};
        const int64_t k0 = slice.first, k1 = slice.second;
        for (const auto& k : ks) {
          auto run = [&](Out& y, int64_t c0, int64_t c1) {
            trace(k.label() + " " + desc + " cols [" + str(c0) + "," + str(c1) + ")");
            k.fn(a.rowptr.data(), col.data(), a.val.data(), x.data(), n, y.data(), rows, c0, c1);
          };
          const std::string label = k.label() + " " + desc;
          Out y(kk * n, 37 + n);
          // Into a zeroed Y: Y = A^T X.
          y.fill_sentinel();
          for (int64_t i = 0; i < kk * n; ++i) y[i] = 0.f;
          y.snapshot();
          run(y, 0, kk);
          g_report.record(label + " into zeroed y, cols [0," + str(kk) + ")", check(y, 0, kk * n, ref, mag, n));
          // Accumulating: Y = Y0 + A^T X.
          y.fill_sentinel();
          for (int64_t i = 0; i < kk * n; ++i) y[i] = y0[i];
          y.snapshot();
          run(y, 0, kk);
          g_report.record(label + " accumulating into y0, cols [0," + str(kk) + ")",
                          check(y, 0, kk * n, ref_acc, mag_acc, n));
          // One slice of output rows: the others stay untouched.
          if (kk >= 3) {
            y.fill_sentinel();
            for (int64_t i = k0 * n; i < k1 * n; ++i) y[i] = 0.f;
            y.snapshot();
            run(y, k0, k1);
            g_report.record(label + " into zeroed slice, cols [" + str(k0) + "," + str(k1) + ")",
                            check(y, k0 * n, k1 * n, ref, mag, n));
          }
          // Three slices one after the other, as threads would split it.
          y.fill_sentinel();
          for (int64_t i = 0; i < kk * n; ++i) y[i] = 0.f;
          y.snapshot();
          run(y, 0, k0);
          run(y, k0, k1);
          run(y, k1, kk);
          g_report.record(label + " as slices [0," + str(k0) + ") [" + str(k0) + "," + str(k1) + ") [" + str(k1) +
                              "," + str(kk) + ")",
                          check(y, 0, kk * n, ref, mag, n));
        }
      }
}

void test_csrspmmt_i32(const std::vector<Kernel<csrspmmt_i32_t>>& ks) { test_csrspmmt<int32_t>(ks, "csrspmmt_i32"); }
void test_csrspmmt_u16(const std::vector<Kernel<csrspmmt_u16_t>>& ks) { test_csrspmmt<uint16_t>(ks, "csrspmmt_u16"); }

// ------------------------------------------------------------------ sddmm

// out[p] = dot(A[r, :], B[col[p], :]) in float64.
void ref_sddmm(const Csr& s, const In& a, const In& b, int64_t n, std::vector<double>& ref, std::vector<double>& mag) {
  ref.assign(static_cast<size_t>(s.nnz()), 0.0);
  mag.assign(static_cast<size_t>(s.nnz()), 0.0);
  for (int64_t r = 0; r < s.rows; ++r)
    for (int32_t p = s.rowptr[r]; p < s.rowptr[r + 1]; ++p)
      for (int64_t j = 0; j < n; ++j) {
        const double t = static_cast<double>(a[r * n + j]) * b[s.col[p] * static_cast<int64_t>(n) + j];
        ref[p] += t;
        mag[p] += std::fabs(t);
      }
}

template <typename Idx>
void test_sddmm(const std::vector<Kernel<sddmm_fn<Idx>>>& ks, const char* slot) {
  if (ks.empty()) return;
  constexpr bool narrow = sizeof(Idx) == 2;
  Rng rng(g_seed ^ hash_str(slot));
  int64_t rotation = 0;
  for (const auto& shape : csr_shapes(narrow))
    for (const Density& d : densities(shape.first, shape.second))
      for (int64_t n : batches(shape.first, shape.second, rotation++)) {
        const int64_t rows = shape.first, cols = shape.second;
        const Csr s = random_csr(rows, cols, d, rng);
        const std::vector<Idx> col(s.col.begin(), s.col.end());
        const In a = random_in(rows * n, rng), b = random_in(cols * n, rng);
        std::vector<double> ref, mag;
        ref_sddmm(s, a, b, n, ref, mag);
        const std::string desc = csr_desc(s, d, n);
        for (const auto& k : ks) {
          const std::string label = k.label() + " " + desc;
          Out out(s.nnz());
          auto run = [&](int64_t r0, int64_t r1) {
            out.fill_sentinel();
            out.snapshot();
            trace(label + " rows [" + str(r0) + "," + str(r1) + ")");
            k.fn(s.rowptr.data(), col.data(), a.data(), b.data(), n, out.data(), r0, r1);
          };
          run(0, rows);
          g_report.record(label + " rows [0," + str(rows) + ")", check(out, 0, s.nnz(), ref, mag, 0));
          if (rows >= 3) {
            const auto [r0, r1] = partial_range(rows);
            run(r0, r1);
            g_report.record(label + " rows [" + str(r0) + "," + str(r1) + ")",
                            check(out, s.rowptr[r0], s.rowptr[r1], ref, mag, 0));
          }
          if (rows >= 1) {
            run(rows / 2, rows / 2);
            g_report.record(label + " empty row range", check(out, 0, 0, ref, mag, 0));
          }
        }
      }
}

void test_sddmm_i32(const std::vector<Kernel<sddmm_i32_t>>& ks) { test_sddmm<int32_t>(ks, "sddmm_i32"); }
void test_sddmm_u16(const std::vector<Kernel<sddmm_u16_t>>& ks) { test_sddmm<uint16_t>(ks, "sddmm_u16"); }

// ------------------------------------------------------------------ bsrspmm

struct Bsr {
  int64_t rows = 0, cols = 0;
  int32_t br = 1, bc = 1;
  std::vector<int32_t> rowptr{0}, col;
  std::vector<float> val;
  std::vector<double> dense;
  int64_t brows() const { return (rows + br - 1) / br; }
  int64_t blocks() const { return static_cast<int64_t>(col.size()); }
};

// Padding entries of edge blocks (outside the matrix) hold `pad`: zero as prepare_bsr leaves
// them for the kernels, anything else to check that prepare_bsr clears them.
Bsr random_bsr(int64_t rows, int64_t cols, int32_t br, int32_t bc, const Density& d, Rng& rng, float pad) {
  Bsr a;
  a.rows = rows;
  a.cols = cols;
  a.br = br;
  a.bc = bc;
  const int64_t brows = (rows + br - 1) / br, bcols = (cols + bc - 1) / bc;
  a.rowptr.assign(static_cast<size_t>(brows + 1), 0);
  a.dense.assign(static_cast<size_t>(rows * cols), 0.0);
  for (int64_t b = 0; b < brows; ++b) {
    const int kind = row_kind(d.pattern, b);
    for (int64_t cb = 0; cb < bcols; ++cb) {
      bool keep = kind == 1 || (kind == 2 && rng.uniform() >= d.sparsity);
      if (kind == 2 && d.sparsity < 1.0 && b == brows - 1 && cb == bcols - 1) keep = true;  // the corner block
      if (!keep) continue;
      a.col.push_back(static_cast<int32_t>(cb));
      for (int32_t r = 0; r < br; ++r)
        for (int32_t c = 0; c < bc; ++c) {
          const int64_t gr = b * br + r, gc = cb * bc + c;
          if (gr < rows && gc < cols) {
            const float v = rng.value();
            a.val.push_back(v);
            a.dense[gr * cols + gc] = v;
          } else {
            a.val.push_back(pad);
          }
        }
    }
    a.rowptr[b + 1] = static_cast<int32_t>(a.col.size());
  }
  return a;
}

// The column-striped form the bsrspmm kernel reads (see ukernels.h): stripe s holds block
// columns [s * sbw, (s + 1) * sbw) with row pointers per block row at srowptr[s * (brows + 1)],
// stripe-local 16-bit block-column indices and the blocks' values in stripe order.
struct StripedBsr {
  int32_t stripes = 0, sbw = 1;
  std::vector<int32_t> srowptr;
  std::vector<uint16_t> col;
  std::vector<float> val;
};

StripedBsr stripe_bsr(const Bsr& a, int32_t sbw) {
  StripedBsr s;
  const int64_t brows = a.brows(), bcols = (a.cols + a.bc - 1) / a.bc, blk = int64_t(a.br) * a.bc;
  s.sbw = sbw;
  s.stripes = static_cast<int32_t>((bcols + sbw - 1) / sbw);
  s.srowptr.assign(static_cast<size_t>(s.stripes) * (brows + 1), 0);
  std::vector<int32_t> next(a.rowptr.begin(), a.rowptr.end() - 1);
  for (int32_t st = 0; st < s.stripes; ++st) {
    int32_t* rp = s.srowptr.data() + static_cast<size_t>(st) * (brows + 1);
    rp[0] = static_cast<int32_t>(s.col.size());
    for (int64_t b = 0; b < brows; ++b) {
      for (int32_t& q = next[b]; q < a.rowptr[b + 1] && a.col[q] < static_cast<int64_t>(st + 1) * sbw; ++q) {
        s.col.push_back(static_cast<uint16_t>(a.col[q] - static_cast<int64_t>(st) * sbw));
        s.val.insert(s.val.end(), a.val.begin() + q * blk, a.val.begin() + (q + 1) * blk);
      }
      rp[b + 1] = static_cast<int32_t>(s.col.size());
    }
  }
  return s;
}

// Stripe widths (in block columns) to try: one block column, a few, one stripe for all, and
// the 16-bit limit when there are more block columns than that.
std::vector<int32_t> bsr_stripe_widths(int64_t bcols) {
  if (bcols == 0) return {1};
  std::vector<int32_t> out;
  for (int64_t w : {bcols, int64_t(1), int64_t(2), int64_t(5), int64_t(65536)})
    if (w <= bcols && w <= 65536 && std::find(out.begin(), out.end(), w) == out.end()) out.push_back(static_cast<int32_t>(w));
  return out;
}

void test_bsrspmm(const std::vector<Kernel<bsrspmm_t>>& ks) {
  if (ks.empty()) return;
  Rng rng(g_seed ^ hash_str("bsrspmm"));
  struct Shape {
    int64_t rows, cols;
    std::vector<int32_t> bcs;
  };
  const std::vector<int32_t> all_bc = {1, 2, 3, 4, 8};
  // {2, 140000} with 1- and 2-wide blocks: more block columns than a 16-bit stripe index holds.
  const Shape shapes[] = {{0, 5, all_bc},   {1, 1, all_bc},   {5, 7, all_bc},     {19, 23, all_bc},
                          {37, 70, all_bc}, {16, 24, all_bc}, {2, 140000, {1, 2}}};
  int64_t variant = 0, rot = 0;
  for (const Shape& shape : shapes)
    for (int32_t br : {1, 2, 4, 8})
      for (int32_t bc : shape.bcs) {
        if (shape.cols >= 65536 && br != 1 && br != 4) continue;  // the wide shape is for the index range
        for (const Density& d : densities(shape.rows, shape.cols))
          for (int rep = 0; rep < 2; ++rep) {  // two cases each; batch width and stripe width rotate
            const int64_t rows = shape.rows, cols = shape.cols, bcols = (cols + bc - 1) / bc;
            const int64_t n = cols >= 65536 ? (rep ? 7 : 1) : kBatches[rot % 9];
            const std::vector<int32_t> widths = bsr_stripe_widths(bcols);
            const int32_t sbw = widths[static_cast<size_t>(rot / 9 + rot) % widths.size()];
            ++rot;
            // Padding of edge blocks: zero (as prepare_bsr leaves it) in one case of two, NaN in the
            // other. ukernels.h promises padding rows are never stored and padding columns never
            // meet X, so NaN there must not show; it also exposes a store to the row past the end.
            const Bsr a = random_bsr(rows, cols, br, bc, d, rng, rep ? std::nanf("7") : 0.f);
            const StripedBsr st = stripe_bsr(a, sbw);
            const In x = random_in(cols * n, rng), bias = random_in(rows, rng);
            std::vector<double> pre, mag;
            ref_matmul(a.dense, rows, cols, x, n, pre, mag);
            const EpRefs refs = make_ep_refs(pre, mag, rows, n, bias);
            const std::string desc = "A " + str(rows) + "x" + str(cols) + " blocks " + str(br) + "x" + str(bc) +
                                     " count=" + str(a.blocks()) + " (" + d.name + ") n=" + str(n) + " stripes " +
                                     str(st.stripes) + " of " + str(sbw) + " block columns, padding " +
                                     (rep ? "NaN" : "0");
            for (const auto& k : ks)
              run_rows(k.label(), desc, "block rows", rows, n, a.brows(), br, refs, bias, variant,
                       [&](float* y, int64_t b0, int64_t b1, Epilogue ep) {
                         k.fn(br, bc, st.srowptr.data(), st.stripes, st.sbw, a.brows(), st.col.data(), st.val.data(),
                              x.data(), cols, n, n, y, rows, b0, b1, ep);
                       });
            ++variant;
          }
      }
}

// ------------------------------------------------------------------ gemm / gemv

// Packs A (m x k row-major) exactly as DensePrepared does: panels of mr rows, k-major inside a
// panel, zero padded, plus 16 floats of slack.
In pack_panels(const In& a, int64_t m, int64_t k, int mr) {
  const int64_t panels = (m + mr - 1) / mr;
  In p(panels * mr * k + 16);
  for (int64_t q = 0; q < panels; ++q)
    for (int64_t r = 0; r < mr && q * mr + r < m; ++r)
      for (int64_t kk = 0; kk < k; ++kk) p[q * mr * k + kk * mr + r] = a[(q * mr + r) * k + kk];
  return p;
}

const std::pair<int64_t, int64_t> kGemmShapes[] = {{0, 0},  {0, 5},   {1, 1},   {3, 0},   {5, 7},
                                                   {6, 16}, {13, 33}, {8, 257}, {17, 300}, {50, 40}};

template <class F>
void test_dense(const std::vector<Kernel<F>>& ks, const char* slot, bool gemv) {
  if (ks.empty()) return;
  Rng rng(g_seed ^ hash_str(slot));
  for (const auto& k : ks) {  // the packed panel height is the table's gemm_mr
    const int mr = std::atoi(k.tile);
    g_report.record(k.label() + " tile \"" + k.tile + "\" panel height",
                    mr == kernels_for(k.isa).gemm_mr ? ""
                                                     : "tile says " + str(mr) + " rows but the table's gemm_mr is " +
                                                           str(kernels_for(k.isa).gemm_mr));
  }
  int64_t variant = 0;
  int64_t rotation = 0;
  for (const auto& shape : kGemmShapes)
    for (int64_t n : gemv ? std::vector<int64_t>{1} : batches(shape.first, shape.second, rotation++)) {
      const int64_t m = shape.first, kdim = shape.second;
      const In a = random_in(m * kdim, rng), x = random_in(kdim * n, rng), bias = random_in(m, rng);
      std::vector<double> ad(a.data(), a.data() + m * kdim), pre, mag;
      ref_matmul(ad, m, kdim, x, n, pre, mag);
      const EpRefs refs = make_ep_refs(pre, mag, m, n, bias);
      const std::string desc = "A " + str(m) + "x" + str(kdim) + " n=" + str(n);
      for (const auto& k : ks) {
        const int mr = std::atoi(k.tile);
        const In packed = pack_panels(a, m, kdim, mr);
        const int64_t panels = (m + mr - 1) / mr;
        run_rows(k.label(), desc, "panels", m, n, panels, mr, refs, bias, variant,
                 [&](float* y, int64_t p0, int64_t p1, Epilogue ep) {
                   if constexpr (std::is_same_v<F, gemv_fn>)
                     k.fn(packed.data(), m, kdim, x.data(), y, p0, p1, ep);
                   else
                     k.fn(packed.data(), m, kdim, x.data(), n, n, y, p0, p1, ep);
                 });
      }
      ++variant;
    }
}

void test_gemm(const std::vector<Kernel<gemm_t>>& ks) { test_dense(ks, "gemm", false); }
void test_gemv(const std::vector<Kernel<gemv_t>>& ks) { test_dense(ks, "gemv", true); }

// ------------------------------------------------------------------ spconv (direct sparse convolution)

// A convolution case: input [c, h, w], weight O x (c / groups * kh * kw), width stride 1.
struct ConvCase {
  int64_t c, h, w, o, kh, kw, sh, ph, pw, dh, dw, groups;
  int64_t oh() const { return (h + 2 * ph - dh * (kh - 1) - 1) / sh + 1; }
  int64_t ow() const { return w + 2 * pw - dw * (kw - 1); }
  int64_t cols() const { return c / groups * kh * kw; }
  ConvGeometry geometry(int64_t n) const { return ConvGeometry{c, h, w, n, kh, kw, sh, 1, ph, pw, dh, dw, oh(), ow()}; }
  std::string desc() const {
    return "conv " + str(c) + "x" + str(h) + "x" + str(w) + " -> " + str(o) + " k" + str(kh) + "x" + str(kw) + " s" +
           str(sh) + " p" + str(ph) + "," + str(pw) + " d" + str(dh) + "," + str(dw) + " g" + str(groups);
  }
};
const ConvCase kConvCases[] = {
    {1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1},    {1, 28, 28, 16, 5, 5, 1, 2, 2, 1, 1, 1},
    {16, 14, 14, 32, 5, 5, 1, 2, 2, 1, 1, 1}, {3, 9, 7, 5, 3, 3, 2, 1, 1, 1, 1, 1},
    {4, 10, 11, 6, 3, 2, 1, 0, 1, 2, 3, 2},   {6, 5, 5, 9, 1, 1, 1, 0, 0, 1, 1, 3},
    {2, 3, 4, 3, 3, 3, 3, 1, 1, 1, 1, 1},     {8, 7, 6, 8, 3, 3, 1, 1, 1, 1, 1, 8},
};

// Y [o, oh, ow, n] of the convolution with dense weights `wd` (o x cols) on x [c, h, w, n],
// zero padding, in float64: the reference and the magnitude of its terms.
void ref_conv(const ConvCase& cc, const std::vector<double>& wd, const In& x, int64_t n, std::vector<double>& ref,
              std::vector<double>& mag) {
  const int64_t oh = cc.oh(), ow = cc.ow(), cg = cc.c / cc.groups, og = cc.o / cc.groups;
  ref.assign(static_cast<size_t>(cc.o * oh * ow * n), 0.0);
  mag.assign(ref.size(), 0.0);
  for (int64_t o = 0; o < cc.o; ++o)
    for (int64_t ci = 0; ci < cg; ++ci)
      for (int64_t ky = 0; ky < cc.kh; ++ky)
        for (int64_t kx = 0; kx < cc.kw; ++kx) {
          const double v = wd[o * cc.cols() + (ci * cc.kh + ky) * cc.kw + kx];
          if (v == 0) continue;
          const int64_t c = o / og * cg + ci;
          for (int64_t y = 0; y < oh; ++y) {
            const int64_t iy = y * cc.sh - cc.ph + ky * cc.dh;
            if (iy < 0 || iy >= cc.h) continue;
            for (int64_t q = 0; q < ow; ++q) {
              const int64_t ix = q - cc.pw + kx * cc.dw;
              if (ix < 0 || ix >= cc.w) continue;
              for (int64_t b = 0; b < n; ++b) {
                const double t = v * x[((c * cc.h + iy) * cc.w + ix) * n + b];
                ref[((o * oh + y) * ow + q) * n + b] += t;
                mag[((o * oh + y) * ow + q) * n + b] += std::fabs(t);
              }
            }
          }
        }
}

// The kernel's inputs, built here independently of core/sparse_conv.cc: the zero-padded image
// and each entry's tap offset in padded pixels.
In pad_image(const ConvCase& cc, const In& x, int64_t n) {
  const int64_t hp = cc.h + 2 * cc.ph, wp = cc.w + 2 * cc.pw;
  In xp(cc.c * hp * wp * n);
  for (int64_t i = 0; i < xp.size(); ++i) xp[i] = 0.f;
  for (int64_t c = 0; c < cc.c; ++c)
    for (int64_t y = 0; y < cc.h; ++y)
      for (int64_t q = 0; q < cc.w; ++q)
        for (int64_t b = 0; b < n; ++b)
          xp[((c * hp + y + cc.ph) * wp + q + cc.pw) * n + b] = x[((c * cc.h + y) * cc.w + q) * n + b];
  return xp;
}

std::vector<int32_t> tap_offsets(const ConvCase& cc, const Csr& a) {
  const int64_t hp = cc.h + 2 * cc.ph, wp = cc.w + 2 * cc.pw, cg = cc.c / cc.groups, og = cc.o / cc.groups;
  std::vector<int32_t> off(a.col.size());
  for (int64_t o = 0; o < a.rows; ++o)
    for (int32_t p = a.rowptr[o]; p < a.rowptr[o + 1]; ++p) {
      const int64_t ci = a.col[p] / (cc.kh * cc.kw), ky = a.col[p] / cc.kw % cc.kh, kx = a.col[p] % cc.kw;
      off[p] = static_cast<int32_t>(((o / og * cg + ci) * hp + ky * cc.dh) * wp + kx * cc.dw);
    }
  return off;
}

void test_spconv(const std::vector<Kernel<spconv_t>>& ks) {
  if (ks.empty()) return;
  Rng rng(g_seed ^ hash_str("spconv"));
  int64_t variant = 0;
  for (const ConvCase& cc : kConvCases)
    for (const Density& d : kDensities)
      for (int64_t n : {int64_t(1), int64_t(3), int64_t(8), int64_t(17), int64_t(64)}) {
        // Large images at every batch only for a few densities (the float64 reference is slow).
        if (cc.h * cc.w * cc.c * n > 40000 && variant % 3 != 0) {
          ++variant;
          continue;
        }
        const Csr a = random_csr(cc.o, cc.cols(), d, rng);
        const In x = random_in(cc.c * cc.h * cc.w * n, rng), bias = random_in(cc.o, rng);
        std::vector<double> pre, mag;
        ref_conv(cc, a.dense(), x, n, pre, mag);
        const int64_t len = cc.oh() * cc.ow() * n;  // one output channel
        const EpRefs refs = make_ep_refs(pre, mag, cc.o, len, bias);
        const In xp = pad_image(cc, x, n);
        const std::vector<int32_t> off = tap_offsets(cc, a);
        const int64_t row_step = cc.sh * (cc.w + 2 * cc.pw);
        const std::string desc = cc.desc() + " nnz=" + str(a.nnz()) + " (" + d.name + ") n=" + str(n);
        for (const auto& k : ks)
          run_rows(k.label(), desc, "channels", cc.o, len, cc.o, 1, refs, bias, variant,
                   [&](float* y, int64_t o0, int64_t o1, Epilogue ep) {
                     k.fn(a.rowptr.data(), off.data(), a.val.data(), xp.data(), n, row_step, cc.oh(), cc.ow(), y, o0,
                          o1, ep);
                   });
        ++variant;
      }
}

// ------------------------------------------------------------------ vgelu

void test_vgelu(const std::vector<Kernel<vgelu_t>>& ks) {
  if (ks.empty()) return;
  Rng rng(g_seed ^ hash_str("vgelu"));
  for (int64_t n : {int64_t(0), int64_t(1), int64_t(3), int64_t(7), int64_t(8), int64_t(15), int64_t(16),
                    int64_t(17), int64_t(31), int64_t(33), int64_t(100), int64_t(1000)}) {
    In x(n);
    // Values over the range that matters (|x| up to 6, where erf has saturated), plus exact
    // boundaries; elements below -2 are the caller's to redo (ukernels.h), so only their
    // staying inside [0, n) is checked.
    for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(12.0 * rng.uniform() - 6.0);
    if (n > 4) x[0] = 0.f, x[1] = -2.f, x[2] = 4.f * 1.41421356f, x[3] = 1e-8f;
    std::vector<double> ref(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) ref[i] = 0.5 * x[i] * (1.0 + std::erf(x[i] / std::sqrt(2.0)));
    for (const auto& k : ks) {
      Out y(n);
      y.snapshot();
      k.fn(x.data(), y.data(), n);
      std::string problem = y.guards_intact() ? "" : "wrote outside the output array (guard zone changed)";
      for (int64_t i = 0; i < n && problem.empty(); ++i) {
        if (x[i] < -2.f) continue;
        // The documented accuracy (core/elementwise.h): 3e-7 relative to max(1, |x|).
        if (!(std::fabs(y[i] - ref[i]) <= 3e-7 * std::max(1.0, std::fabs(static_cast<double>(x[i])))))
          problem = "y[" + str(i) + "] = " + fmt("%.9g", y[i]) + " for x = " + fmt("%.9g", x[i]) + ", expected " +
                    fmt("%.9g", ref[i]);
      }
      g_report.record(k.label() + " n=" + str(n), problem);
    }
  }
}

// ------------------------------------------------------------------ every slot of every ISA

// One list of kernels per slot. The slots are the scalar lines of the list (every slot has a
// scalar kernel); the other ISAs' lines add entries.
struct ActiveKernels {
#define TEST_MEMBER_scalar(slot) std::vector<Kernel<slot##_t>> slot;
#define TEST_MEMBER_avx2(slot)
#define TEST_MEMBER_avx512(slot)
#define TEST_MEMBER_neon(slot)
#define SPARSENN_UKERNEL(slot, isa, fn, tile) TEST_MEMBER_##isa(slot)
#include "kernels/all-kernels.inc"
#undef SPARSENN_UKERNEL
};

ActiveKernels collect(const std::vector<Isa>& isas) {
  ActiveKernels a;
  auto active = [&](Isa i) { return std::find(isas.begin(), isas.end(), i) != isas.end(); };
  // Every line of the list, for an ISA under test: the table must hold exactly that kernel.
#define SPARSENN_UKERNEL(slot, isa, fn, tile)                                                             \
  if (active(isa_of_##isa)) {                                                                             \
    g_report.record(std::string("[") + #isa + "] table slot " #slot,                                      \
                    kernels_for(isa_of_##isa).slot == &fn ? "" : "kernels_for(" #isa ")." #slot " is not " #fn); \
    a.slot.push_back(Kernel<slot##_t>{isa_of_##isa, #slot, #fn, tile, &fn});                              \
  }
#include "kernels/all-kernels.inc"
#undef SPARSENN_UKERNEL
  // Every slot has a kernel in the table of every ISA under test.
#define TEST_SLOT_scalar(slot)                                                                            \
  for (Isa i : isas)                                                                                      \
    g_report.record(std::string("[") + isa_name(i) + "] table slot " #slot " filled",                    \
                    kernels_for(i).slot ? "" : "no kernel in this ISA's table for slot " #slot);
#define TEST_SLOT_avx2(slot)
#define TEST_SLOT_avx512(slot)
#define TEST_SLOT_neon(slot)
#define SPARSENN_UKERNEL(slot, isa, fn, tile) TEST_SLOT_##isa(slot)
#include "kernels/all-kernels.inc"
#undef SPARSENN_UKERNEL
  return a;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void run_all_slots(const ActiveKernels& a) {
  // One test_<slot>() per slot: a slot added to the list without one does not compile.
#define TEST_RUN_scalar(slot)                                                                                 \
  {                                                                                                           \
    const auto t0 = std::chrono::steady_clock::now();                                                         \
    const int64_t before = g_report.passed() + g_report.failed(), failed = g_report.failed();                 \
    test_##slot(a.slot);                                                                                      \
    std::printf("  %-13s %zu kernel(s), %lld cases, %lld failed (%.2f s)\n", #slot, a.slot.size(),            \
                static_cast<long long>(g_report.passed() + g_report.failed() - before),                       \
                static_cast<long long>(g_report.failed() - failed), seconds_since(t0));                       \
    std::fflush(stdout);                                                                                      \
  }
#define TEST_RUN_avx2(slot)
#define TEST_RUN_avx512(slot)
#define TEST_RUN_neon(slot)
#define SPARSENN_UKERNEL(slot, isa, fn, tile) TEST_RUN_##isa(slot)
#include "kernels/all-kernels.inc"
#undef SPARSENN_UKERNEL
}

// ------------------------------------------------------------------ the prepared path

std::string same_output(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return "different lengths";
  for (size_t i = 0; i < a.size(); ++i)
    if (!same_bits(a[i], b[i]))
      return "element " + std::to_string(i) + " differs: " + fmt("%.9g", a[i]) + " vs " + fmt("%.9g", b[i]);
  return "";
}

std::vector<float> contents(const Out& y) { return std::vector<float>(y.data(), y.data() + y.size()); }

// Runs `run(y)` into a sentinel-filled Y on 1 and 2 threads, checks both against the reference
// and that the two results are bit-identical (every split computes each output the same way).
void run_prepared(const std::string& what, int64_t len, int64_t width, const std::vector<double>& ref,
                  const std::vector<double>& mag, const std::function<void(float*)>& run) {
  std::vector<float> first;
  for (int threads : {1, 2}) {
    ThreadPool::instance().set_threads(threads);
    Out y(len);
    y.snapshot();
    std::string problem;
    trace(what + " threads=" + str(threads));
    try {
      run(y.data());
      problem = check(y, 0, len, ref, mag, width);
    } catch (const std::exception& e) {
      problem = std::string("threw ") + e.what();
    }
    g_report.record(what + " threads=" + str(threads), problem);
    if (threads == 1) first = contents(y);
    else g_report.record(what + " same result on 1 and 2 threads", same_output(first, contents(y)));
  }
}

// The product family of a CsrPrepared (CSR or N:M): multiply (n = 1 and n > 1, with and
// without the epilogue), multiply_transposed and sddmm.
void test_prepared_csr_products(const std::string& label, const CsrPrepared& p, const std::vector<double>& dense,
                                Rng& rng) {
  const int64_t rows = p.rows(), cols = p.cols();
  // n = 100 on 2 threads splits the larger products by batch columns (split_columns).
  for (int64_t n : {1, 33, 100}) {
    const In x = random_in(cols * n, rng), bias = random_in(rows, rng);
    std::vector<double> pre, mag;
    ref_matmul(dense, rows, cols, x, n, pre, mag);
    const EpRefs refs = make_ep_refs(pre, mag, rows, n, bias);
    for (int e : {0, 3})
      run_prepared(label + " multiply n=" + str(n) + " " + kEps[e].name, rows * n, n, refs.ref[e], refs.mag[e],
                   [&](float* y) { p.multiply(x.data(), n, y, epilogue(e, bias)); });
    const In xt = random_in(rows * n, rng);
    ref_matmul_t(dense, rows, cols, xt, n, pre, mag);
    run_prepared(label + " multiply_transposed n=" + str(n), cols * n, n, pre, mag,
                 [&](float* y) { p.multiply_transposed(xt.data(), n, y); });
    const In a = random_in(rows * n, rng), b = random_in(cols * n, rng);
    std::vector<double> sref(static_cast<size_t>(p.nnz()), 0.0), smag(static_cast<size_t>(p.nnz()), 0.0);
    {
      int64_t q = 0;  // stored entries in row-major order of the pattern = the dense nonzeros
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c)
          if (dense[r * cols + c] != 0) {
            for (int64_t j = 0; j < n; ++j) {
              const double t = static_cast<double>(a[r * n + j]) * b[c * n + j];
              sref[q] += t;
              smag[q] += std::fabs(t);
            }
            ++q;
          }
    }
    run_prepared(label + " sddmm n=" + str(n), p.nnz(), 0, sref, smag,
                 [&](float* out) { p.sddmm(a.data(), b.data(), n, out); });
  }
}

// Non-finite values in X reach only the rows that reference them: a row that stores none of
// X's Inf/NaN rows must come out finite and exact, a row that stores one must not (IEEE
// 0 * Inf = NaN, so a product that multiplies entries the matrix does not store, layout
// padding say, leaks NaN into unrelated rows). Matrix-vector and matrix-matrix alike.
void test_prepared_nonfinite(const std::string& tag, Rng& rng) {
  struct Shape {
    int64_t rows, cols;
    double sparsity;
  };
  for (const Shape& s : {Shape{40, 100, 0.9}, Shape{33, 300, 0.97}, Shape{20, 2000, 0.99}}) {
    const Csr a = random_csr(s.rows, s.cols, Density{s.sparsity, Pattern::kRandom, ""}, rng);
    const std::unique_ptr<CsrPrepared> p = prepare_csr(s.rows, s.cols, a.rowptr.data(), a.rowptr.size(),
                                                       a.col.data(), a.col.size(), a.val.data(), a.val.size());
    // Non-finite X rows: the first column, the last, and a few between (every stripe width the
    // preparation may pick starts a stripe at column 0).
    std::vector<int64_t> bad;
    for (int64_t c : {int64_t(0), s.cols - 1, s.cols / 3, s.cols / 2 + 1, int64_t(64), int64_t(128)})
      if (c < s.cols && std::find(bad.begin(), bad.end(), c) == bad.end()) bad.push_back(c);
    std::vector<char> is_bad(static_cast<size_t>(s.cols), 0);
    for (int64_t c : bad) is_bad[c] = 1;
    std::vector<char> touches(static_cast<size_t>(s.rows), 0);
    for (int64_t r = 0; r < s.rows; ++r)
      for (int32_t q = a.rowptr[r]; q < a.rowptr[r + 1]; ++q) touches[r] |= is_bad[a.col[q]];
    for (int64_t n : {1, 2, 33}) {
      In x = random_in(s.cols * n, rng);
      for (size_t i = 0; i < bad.size(); ++i)
        for (int64_t j = 0; j < n; ++j) x[bad[i] * n + j] = i % 2 ? std::nanf("") : INFINITY;
      // Reference over the stored entries of the rows that touch no non-finite X row.
      std::vector<double> ref(static_cast<size_t>(s.rows * n), 0.0), mag(ref.size(), 0.0);
      for (int64_t r = 0; r < s.rows; ++r)
        for (int32_t q = a.rowptr[r]; q < a.rowptr[r + 1] && !touches[r]; ++q)
          for (int64_t j = 0; j < n; ++j) {
            const double t = static_cast<double>(a.val[q]) * x[a.col[q] * n + j];
            ref[r * n + j] += t;
            mag[r * n + j] += std::fabs(t);
          }
      for (int threads : {1, 2}) {
        ThreadPool::instance().set_threads(threads);
        Out y(s.rows * n);
        y.snapshot();
        const std::string what = tag + "csr " + str(s.rows) + "x" + str(s.cols) + " nnz=" + str(a.nnz()) +
                                 " multiply n=" + str(n) + " with Inf/NaN in X rows threads=" + str(threads);
        trace(what);
        p->multiply(x.data(), n, y.data(), Epilogue{nullptr, false});
        std::string problem = y.guards_intact() ? "" : "wrote outside the output array";
        for (int64_t i = 0; i < s.rows * n && problem.empty(); ++i) {
          const int64_t r = i / n;
          if (touches[r]) {
            if (std::isfinite(y[i])) problem = "y" + where(i, n) + " = " + fmt("%.9g", y[i]) + " is finite, but row " +
                                               str(r) + " references a non-finite X row";
          } else if (!(std::fabs(y[i] - ref[i]) <= tolerance(mag[i]))) {
            problem = "y" + where(i, n) + " = " + fmt("%.9g", y[i]) + ", expected " + fmt("%.9g", ref[i]) +
                      " (row " + str(r) + " references no non-finite X row)";
          }
        }
        g_report.record(what, problem);
      }
    }
  }
}

// prepare_conv + multiply on the unpadded image against the float64 convolution, on 1 and 2
// threads (the second with work large enough to split), with and without the epilogue.
void test_prepared_conv(const std::string& tag, Rng& rng) {
  const ConvCase cases[] = {kConvCases[2], kConvCases[3], kConvCases[4], kConvCases[7]};
  for (const ConvCase& cc : cases)
    for (int64_t n : {int64_t(1), int64_t(33)}) {
      const Csr a = random_csr(cc.o, cc.cols(), kDensities[4], rng);
      const ConvGeometry g = cc.geometry(0);
      auto p = prepare_conv(cc.o, cc.cols(), cc.groups, g, a.rowptr.data(), a.rowptr.size(), a.col.data(), a.col.size(),
                            a.val.data(), a.val.size());
      const std::string label = tag + cc.desc();
      g_report.record(label + " input/output rows",
                      p->input_rows() == cc.c * cc.h * cc.w && p->output_rows() == cc.o * cc.oh() * cc.ow() ? ""
                                                                                                             : "wrong sizes");
      const In x = random_in(cc.c * cc.h * cc.w * n, rng), bias = random_in(cc.o, rng);
      std::vector<double> pre, mag;
      ref_conv(cc, a.dense(), x, n, pre, mag);
      const int64_t len = cc.oh() * cc.ow() * n;
      const EpRefs refs = make_ep_refs(pre, mag, cc.o, len, bias);
      for (int e : {0, 3})
        run_prepared(label + " multiply n=" + str(n) + " " + kEps[e].name, cc.o * len, len, refs.ref[e], refs.mag[e],
                     [&](float* y) { p->multiply(x.data(), n, y, epilogue(e, bias)); });
    }
}

void test_prepared() {
  const Isa isa = kernels().isa;
  const std::string tag = std::string("[prepared ") + isa_name(isa) + "] ";
  Rng rng(g_seed ^ hash_str("prepared"));

  // CSR. Values are never exactly zero here, so the dense copy's nonzeros are the pattern.
  struct CsrShape {
    int64_t rows, cols;
    double sparsity;
  };
  for (const CsrShape& s : {CsrShape{0, 4, 0.5}, CsrShape{7, 9, 0.5}, CsrShape{50, 40, 0.0}, CsrShape{300, 500, 0.5},
                            CsrShape{12, 65536, 0.99}, CsrShape{10, 70000, 0.95}}) {
    Csr a = random_csr(s.rows, s.cols, Density{s.sparsity, Pattern::kMixed, ""}, rng);
    for (float& v : a.val)
      if (v == 0.f) v = 0.5f;
    const std::string label = tag + "csr " + str(s.rows) + "x" + str(s.cols) + " nnz=" + str(a.nnz());
    std::unique_ptr<CsrPrepared> p;
    try {
      p = prepare_csr(s.rows, s.cols, a.rowptr.data(), a.rowptr.size(), a.col.data(), a.col.size(), a.val.data(),
                      a.val.size());
    } catch (const std::exception& e) {
      g_report.record(label + " prepare_csr", std::string("threw ") + e.what());
      continue;
    }
    g_report.record(label + " prepare_csr", std::string(p->format()) == "csr" && p->rows() == s.rows &&
                                                    p->cols() == s.cols && p->nnz() == a.nnz()
                                                ? ""
                                                : "wrong format/rows/cols/nnz");
    g_report.record(label + " index width", p->narrow_indices() == (s.cols <= 65536)
                                                ? ""
                                                : "narrow_indices() is " + std::string(p->narrow_indices() ? "true" : "false"));
    if (s.rows == 300) {  // the test must really run split work on two threads
      ThreadPool::instance().set_threads(2);
      g_report.record(label + " splits across threads",
                      split_by_prefix(a.rowptr.data(), s.rows, 33).tasks() > 1 ? "" : "ran as one task");
      g_report.record(label + " splits a wide batch by columns",
                      split_columns(100, kernels().csrspmm_nr, a.nnz() * 100).tasks() > 1 ? "" : "ran as one task");
    }
    test_prepared_csr_products(label, *p, a.dense(), rng);
  }

  test_prepared_nonfinite(tag, rng);
  test_prepared_conv(tag, rng);

  // An all-zero matrix is cheap to hold: its layout must not grow with the stripes it has no
  // entries in (a 200000 x 200000 one once took 834 MB).
  {
    const int64_t big = 200000;
    const std::vector<int32_t> rp(static_cast<size_t>(big + 1), 0);
    // The row pointers plus one array of them per 65536 columns (the widest stripe).
    const size_t limit = static_cast<size_t>((2 + (big + 65535) / 65536) * (big + 1) * 4);
    std::string problem;
    try {
      const size_t csr = prepare_csr(big, big, rp.data(), rp.size(), nullptr, 0, nullptr, 0)->bytes();
      const size_t bsr = prepare_bsr(big, big, 1, 1, rp.data(), rp.size(), nullptr, 0, nullptr, 0)->bytes();
      if (csr > limit || bsr > limit)
        problem = "holds " + str(static_cast<int64_t>(csr)) + " (CSR) and " + str(static_cast<int64_t>(bsr)) +
                  " (BSR) bytes; expected at most " + str(static_cast<int64_t>(limit));
    } catch (const std::exception& e) {
      problem = std::string("threw ") + e.what();
    }
    g_report.record(tag + "empty " + str(big) + "x" + str(big) + " CSR and BSR stay small", problem);
  }

  // N:M: each group of M columns keeps N entries (the last group may be narrower than M).
  struct NmShape {
    int64_t rows, cols;
    int32_t n, m;
  };
  for (const NmShape& s : {NmShape{0, 8, 2, 4}, NmShape{5, 8, 2, 4}, NmShape{64, 130, 2, 4}, NmShape{33, 100, 1, 4},
                           NmShape{300, 512, 4, 8}, NmShape{10, 9, 3, 3}, NmShape{7, 12, 2, 5}}) {
    const int64_t groups = (s.cols + s.m - 1) / s.m;
    std::vector<float> val;
    std::vector<uint8_t> idx;
    std::vector<double> dense(static_cast<size_t>(s.rows * s.cols), 0.0);
    for (int64_t r = 0; r < s.rows; ++r)
      for (int64_t g = 0; g < groups; ++g) {
        const int64_t width = std::min<int64_t>(s.m, s.cols - g * s.m);
        std::vector<int> offs(static_cast<size_t>(width));
        for (int64_t i = 0; i < width; ++i) offs[i] = static_cast<int>(i);
        for (int64_t i = 0; i < s.n; ++i) std::swap(offs[i], offs[i + rng.below(width - i)]);
        std::sort(offs.begin(), offs.begin() + s.n);
        for (int32_t j = 0; j < s.n; ++j) {
          float v = rng.value();
          if (v == 0.f) v = 0.5f;
          val.push_back(v);
          idx.push_back(static_cast<uint8_t>(offs[j]));
          dense[r * s.cols + g * s.m + offs[j]] = v;
        }
      }
    const std::string label =
        tag + "nm " + str(s.n) + ":" + str(s.m) + " " + str(s.rows) + "x" + str(s.cols) + " nnz=" + str(val.size());
    std::unique_ptr<CsrPrepared> p;
    try {
      p = prepare_nm(s.rows, s.cols, s.n, s.m, val.data(), val.size(), idx.data(), idx.size());
    } catch (const std::exception& e) {
      g_report.record(label + " prepare_nm", std::string("threw ") + e.what());
      continue;
    }
    g_report.record(label + " prepare_nm", std::string(p->format()) == "nm" && p->nnz() == static_cast<int64_t>(val.size())
                                               ? ""
                                               : "wrong format or nnz");
    test_prepared_csr_products(label, *p, dense, rng);
  }

  // BSR, with garbage in the padding of edge blocks: prepare_bsr must make it harmless.
  struct BsrShape {
    int64_t rows, cols;
    int32_t br, bc;
  };
  for (const BsrShape& s : {BsrShape{0, 5, 2, 2}, BsrShape{10, 10, 1, 1}, BsrShape{19, 23, 2, 3},
                            BsrShape{37, 70, 8, 4}, BsrShape{300, 400, 4, 8}, BsrShape{33, 65, 8, 64}}) {
    const Bsr a = random_bsr(s.rows, s.cols, s.br, s.bc, Density{0.5, Pattern::kMixed, ""}, rng, 7.0f);
    const std::string label = tag + "bsr " + str(s.rows) + "x" + str(s.cols) + " blocks " + str(s.br) + "x" +
                              str(s.bc) + " count=" + str(a.blocks());
    std::unique_ptr<BsrPrepared> p;
    try {
      p = prepare_bsr(s.rows, s.cols, s.br, s.bc, a.rowptr.data(), a.rowptr.size(), a.col.data(), a.col.size(),
                      a.val.data(), a.val.size());
    } catch (const std::exception& e) {
      g_report.record(label + " prepare_bsr", std::string("threw ") + e.what());
      continue;
    }
    for (int64_t n : {1, 33, 100}) {
      const In x = random_in(s.cols * n, rng), bias = random_in(s.rows, rng);
      std::vector<double> pre, mag;
      ref_matmul(a.dense, s.rows, s.cols, x, n, pre, mag);
      const EpRefs refs = make_ep_refs(pre, mag, s.rows, n, bias);
      for (int e : {0, 3})
        run_prepared(label + " multiply n=" + str(n) + " " + kEps[e].name, s.rows * n, n, refs.ref[e], refs.mag[e],
                     [&](float* y) { p->multiply(x.data(), n, y, epilogue(e, bias)); });
    }
  }

  // Dense (packed GEMM panels of the selected ISA's gemm_mr).
  for (const auto& shape : {std::pair<int64_t, int64_t>{0, 3}, {1, 1}, {7, 0}, {13, 33}, {100, 300}}) {
    const int64_t m = shape.first, k = shape.second;
    const In a = random_in(m * k, rng);
    const std::string label = tag + "dense " + str(m) + "x" + str(k);
    std::unique_ptr<DensePrepared> p;
    try {
      p = prepare_dense(m, k, a.data(), static_cast<size_t>(m * k));
    } catch (const std::exception& e) {
      g_report.record(label + " prepare_dense", std::string("threw ") + e.what());
      continue;
    }
    const std::vector<double> ad(a.data(), a.data() + m * k);
    for (int64_t n : {1, 7, 257}) {
      const In x = random_in(k * n, rng), bias = random_in(m, rng);
      std::vector<double> pre, mag;
      ref_matmul(ad, m, k, x, n, pre, mag);
      const EpRefs refs = make_ep_refs(pre, mag, m, n, bias);
      for (int e : {0, 3})
        run_prepared(label + " multiply n=" + str(n) + " " + kEps[e].name, m * n, n, refs.ref[e], refs.mag[e],
                     [&](float* y) { p->multiply(x.data(), n, y, epilogue(e, bias)); });
    }
  }
  ThreadPool::instance().set_threads(1);
}

// ------------------------------------------------------------------ invalid inputs

void expect_error(const std::string& what, const char* code, const std::function<void()>& f) {
  std::string problem;
  try {
    f();
    problem = std::string("no error, expected CoreError ") + code;
  } catch (const CoreError& e) {
    if (std::strcmp(e.code(), code) != 0)
      problem = std::string("threw ") + e.code() + " (" + e.what() + "), expected " + code;
  } catch (const std::exception& e) {
    problem = std::string("threw a non-CoreError exception: ") + e.what();
  }
  g_report.record("[prepare invalid] " + what, problem);
}

void expect_ok(const std::string& what, const std::function<void()>& f) {
  std::string problem;
  try {
    f();
  } catch (const std::exception& e) {
    problem = std::string("threw ") + e.what();
  }
  g_report.record("[prepare valid] " + what, problem);
}

void test_invalid_inputs() {
  // CSR 3 x 4: row 0 {1}, row 1 {0, 2}, row 2 {3}.
  using V32 = std::vector<int32_t>;
  const std::vector<float> val = {1, 2, 3, 4};
  auto csr = [&](int64_t rows, int64_t cols, const V32& rp, const V32& col, size_t val_len) {
    return [=] { prepare_csr(rows, cols, rp.data(), rp.size(), col.data(), col.size(), val.data(), val_len); };
  };
  const V32 rp = {0, 1, 3, 4}, col = {1, 0, 2, 3};
  expect_ok("csr 3x4", csr(3, 4, rp, col, 4));
  expect_ok("csr 0x0", csr(0, 0, {0}, {}, 0));
  expect_error("csr rowPtr not monotone", "ERR_FORMAT", csr(3, 4, {0, 3, 1, 4}, col, 4));
  expect_error("csr rowPtr[0] != 0", "ERR_FORMAT", csr(3, 4, {1, 1, 3, 4}, col, 4));
  expect_error("csr rowPtr too short", "ERR_FORMAT", csr(3, 4, {0, 1, 3}, col, 4));
  expect_error("csr rowPtr too long", "ERR_FORMAT", csr(3, 4, {0, 1, 3, 4, 4}, col, 4));
  expect_error("csr rowPtr[rows] != nnz", "ERR_FORMAT", csr(3, 4, {0, 1, 3, 3}, col, 4));
  expect_error("csr colIdx and values lengths differ", "ERR_FORMAT", csr(3, 4, rp, col, 3));
  expect_error("csr column == cols", "ERR_RANGE", csr(3, 4, rp, {1, 0, 2, 4}, 4));
  expect_error("csr negative column", "ERR_RANGE", csr(3, 4, rp, {1, -1, 2, 3}, 4));
  expect_error("csr columns unsorted", "ERR_FORMAT", csr(3, 4, rp, {1, 2, 0, 3}, 4));
  expect_error("csr columns duplicated", "ERR_FORMAT", csr(3, 4, rp, {1, 2, 2, 3}, 4));
  expect_error("csr negative rows", "ERR_SHAPE", csr(-1, 4, {0}, {}, 0));
  expect_error("csr cols > 2^31 - 1", "ERR_SHAPE", csr(1, int64_t(1) << 31, {0, 0}, {}, 0));

  // Direct convolution: 2 output channels over a 2 x 4 x 4 image, 3x3 kernel, padding 1 (18 columns).
  auto conv = [&](int64_t rows, int64_t cols, int64_t groups, ConvGeometry g, const V32& rp2, const V32& col2) {
    const std::vector<float> v2(col2.size(), 1.f);
    return [=] { prepare_conv(rows, cols, groups, g, rp2.data(), rp2.size(), col2.data(), col2.size(), v2.data(), v2.size()); };
  };
  const ConvGeometry cg{2, 4, 4, 0, 3, 3, 1, 1, 1, 1, 1, 1, 4, 4};
  const V32 crp = {0, 2, 3}, ccol = {0, 17, 9};
  expect_ok("conv 2x4x4 k3 p1", conv(2, 18, 1, cg, crp, ccol));
  expect_ok("conv grouped (2 groups, 9 columns)", conv(2, 9, 2, cg, crp, {0, 8, 4}));
  ConvGeometry stride2 = cg;
  stride2.sw = 2;
  stride2.ow = 2;
  expect_error("conv width stride 2", "ERR_RANGE", conv(2, 18, 1, stride2, crp, ccol));
  ConvGeometry wrong_oh = cg;
  wrong_oh.oh = 5;
  expect_error("conv output height does not add up", "ERR_SHAPE", conv(2, 18, 1, wrong_oh, crp, ccol));
  ConvGeometry zero_kernel = cg;
  zero_kernel.kh = 0;
  expect_error("conv zero kernel height", "ERR_RANGE", conv(2, 18, 1, zero_kernel, crp, ccol));
  expect_error("conv columns != c * kh * kw", "ERR_SHAPE", conv(2, 17, 1, cg, crp, ccol));
  expect_error("conv groups do not divide the channels", "ERR_SHAPE", conv(2, 6, 3, cg, crp, {0, 5, 4}));
  expect_error("conv column out of range", "ERR_RANGE", conv(2, 18, 1, cg, crp, {0, 18, 9}));
  expect_error("conv rowPtr too short", "ERR_FORMAT", conv(2, 18, 1, cg, {0, 2}, ccol));
  expect_error("conv columns unsorted", "ERR_FORMAT", conv(2, 18, 1, cg, crp, {17, 0, 9}));

  // N:M 2 x 8, 2:4: 2 groups x 2 entries per row.
  const std::vector<float> nmv(8, 1.f);
  auto nm = [&](int64_t rows, int64_t cols, int32_t n, int32_t m, const std::vector<uint8_t>& idx, size_t val_len) {
    return [=] { prepare_nm(rows, cols, n, m, nmv.data(), val_len, idx.data(), idx.size()); };
  };
  const std::vector<uint8_t> good = {0, 2, 1, 3, 2, 3, 0, 1};
  expect_ok("nm 2:4 2x8", nm(2, 8, 2, 4, good, 8));
  expect_ok("nm 2:4 2x6 (narrow last group)", nm(2, 6, 2, 4, {0, 2, 0, 1, 1, 3, 0, 1}, 8));
  expect_error("nm offset >= M", "ERR_RANGE", nm(2, 8, 2, 4, {0, 4, 1, 3, 2, 3, 0, 1}, 8));
  expect_error("nm offset past the last column", "ERR_RANGE", nm(2, 6, 2, 4, {0, 2, 0, 2, 1, 3, 0, 1}, 8));
  expect_error("nm offsets repeated", "ERR_FORMAT", nm(2, 8, 2, 4, {0, 2, 1, 1, 2, 3, 0, 1}, 8));
  expect_error("nm offsets decreasing", "ERR_FORMAT", nm(2, 8, 2, 4, {0, 2, 1, 3, 3, 2, 0, 1}, 8));
  expect_error("nm values too short", "ERR_FORMAT", nm(2, 8, 2, 4, good, 7));
  expect_error("nm indices too long", "ERR_FORMAT", nm(2, 8, 2, 4, {0, 2, 1, 3, 2, 3, 0, 1, 0}, 8));
  expect_error("nm N > M", "ERR_FORMAT", nm(2, 8, 5, 4, good, 8));
  expect_error("nm M = 0", "ERR_FORMAT", nm(2, 8, 0, 0, good, 8));
  expect_error("nm negative cols", "ERR_SHAPE", nm(2, -8, 2, 4, good, 8));

  // BSR 5 x 7 with 2 x 3 blocks: 3 block rows, 3 block columns.
  const std::vector<float> bv(6 * 4, 1.f);
  auto bsr = [&](int64_t rows, int64_t cols, int32_t br, int32_t bc, const V32& rp, const V32& col, size_t val_len) {
    return [=] {
      prepare_bsr(rows, cols, br, bc, rp.data(), rp.size(), col.data(), col.size(), bv.data(), val_len);
    };
  };
  const V32 brp = {0, 2, 3, 4}, bcol = {0, 2, 1, 2};
  expect_ok("bsr 5x7 2x3", bsr(5, 7, 2, 3, brp, bcol, 24));
  for (int32_t br : {0, 3, 5, 16, -2})
    expect_error("bsr block height " + str(br), "ERR_FORMAT", bsr(5, 7, br, 3, brp, bcol, 24));
  expect_error("bsr block width 0", "ERR_FORMAT", bsr(5, 7, 2, 0, brp, bcol, 0));
  expect_error("bsr block width 65", "ERR_FORMAT", bsr(5, 7, 2, 65, brp, bcol, 0));
  expect_error("bsr rowPtr wrong length", "ERR_FORMAT", bsr(5, 7, 2, 3, {0, 2, 4}, bcol, 24));
  expect_error("bsr rowPtr[0] != 0", "ERR_FORMAT", bsr(5, 7, 2, 3, {1, 2, 3, 4}, bcol, 24));
  expect_error("bsr rowPtr not monotone", "ERR_FORMAT", bsr(5, 7, 2, 3, {0, 3, 2, 4}, bcol, 24));
  expect_error("bsr rowPtr[last] != blocks", "ERR_FORMAT", bsr(5, 7, 2, 3, {0, 2, 3, 3}, bcol, 24));
  expect_error("bsr values wrong length", "ERR_FORMAT", bsr(5, 7, 2, 3, brp, bcol, 23));
  expect_error("bsr block column out of range", "ERR_RANGE", bsr(5, 7, 2, 3, brp, {0, 3, 1, 2}, 24));
  expect_error("bsr negative block column", "ERR_RANGE", bsr(5, 7, 2, 3, brp, {0, 2, -1, 2}, 24));
  expect_error("bsr block columns unsorted", "ERR_FORMAT", bsr(5, 7, 2, 3, brp, {2, 0, 1, 2}, 24));
  expect_error("bsr block columns duplicated", "ERR_FORMAT", bsr(5, 7, 2, 3, brp, {2, 2, 1, 2}, 24));

  // Dense.
  const std::vector<float> dv(12, 1.f);
  expect_ok("dense 3x4", [&] { prepare_dense(3, 4, dv.data(), 12); });
  expect_error("dense length mismatch (short)", "ERR_FORMAT", [&] { prepare_dense(3, 4, dv.data(), 11); });
  expect_error("dense length mismatch (long)", "ERR_FORMAT", [&] { prepare_dense(3, 3, dv.data(), 12); });
  expect_error("dense negative rows", "ERR_SHAPE", [&] { prepare_dense(-3, 4, dv.data(), 12); });
}

// ------------------------------------------------------------------ ISA choice and the tables

void test_isa_choice() {
  const IsaChoice& c = isa_choice();
  Isa best = Isa::kScalar;
  for (Isa i : {Isa::kNeon, Isa::kAvx2, Isa::kAvx512})
    if (isa_supported(i)) best = i;
  Isa wanted = best;
  const bool valid = !c.requested.empty() && isa_from_name(c.requested, &wanted);
  const bool honoured = valid && isa_supported(wanted);
  std::string problem;
  if (c.requested.empty() && (c.isa != best || !c.note.empty()))
    problem = std::string("chose ") + isa_name(c.isa) + " with no request; expected the best, " + isa_name(best);
  else if (honoured && (c.isa != wanted || !c.note.empty()))
    problem = std::string("SPARSENN_ISA=") + c.requested + " not honoured (chose " + isa_name(c.isa) + ")";
  else if (!c.requested.empty() && !honoured && (c.isa != best || c.note.empty()))
    problem = std::string("unusable SPARSENN_ISA=") + c.requested + " should fall back to " + isa_name(best) +
              " with a note; chose " + isa_name(c.isa) + ", note \"" + c.note + "\"";
  g_report.record("[isa] isa_choice()", problem);
  g_report.record("[isa] kernels() is kernels_for(the chosen ISA)",
                  &kernels() == &kernels_for(c.isa) && kernels().isa == c.isa ? "" : "it is not");
  g_report.record("[isa] scalar is always supported", isa_supported(Isa::kScalar) ? "" : "it is not");
  for (Isa i : kAllIsas)
    if (isa_supported(i))
      g_report.record(std::string("[isa] ") + isa_name(i) + " is supported, so it is compiled in",
                      isa_compiled(i) ? "" : "isa_supported() says yes but no kernels are compiled for it");

  const std::vector<KernelInfo> list = list_kernels();
  size_t lines = 0;
#define SPARSENN_UKERNEL(slot, isa, fn, tile) ++lines;
#include "kernels/all-kernels.inc"
#undef SPARSENN_UKERNEL
  g_report.record("[isa] list_kernels() has one entry per kernel",
                  list.size() == lines ? "" : str(static_cast<int64_t>(list.size())) + " entries for " +
                                                  str(static_cast<int64_t>(lines)) + " kernels");
  for (const KernelInfo& k : list) {
    Isa i;
    std::string problem2;
    if (!isa_from_name(k.isa, &i)) problem2 = "unknown isa " + k.isa;
    else if (k.available != isa_supported(i)) problem2 = "available flag disagrees with isa_supported()";
    else if (k.selected != (i == c.isa)) problem2 = "selected flag disagrees with isa_choice()";
    g_report.record("[isa] list_kernels() " + k.isa + " " + k.slot + " " + k.name, problem2);
  }
}

}  // namespace
}  // namespace sparsenn::test

int main(int argc, char** argv) {
  using namespace sparsenn;
  using namespace sparsenn::test;
  bool list_isas = false, prepared_only = false;
  if (const char* s = std::getenv("KERNEL_TEST_SEED")) g_seed = std::strtoull(s, nullptr, 0);
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--list-isas") list_isas = true;
    else if (a == "--prepared-only") prepared_only = true;
    else if (a == "--verbose") g_verbose = true;
    else if (a.rfind("--seed=", 0) == 0) g_seed = std::strtoull(a.c_str() + 7, nullptr, 0);
    else {
      std::fprintf(stderr, "usage: %s [--list-isas] [--prepared-only] [--seed=N] [--verbose]\n", argv[0]);
      return 2;
    }
  }

  std::vector<Isa> isas;  // compiled in and supported by this CPU
  for (Isa i : kAllIsas)
    if (isa_compiled(i) && isa_supported(i)) isas.push_back(i);
  if (list_isas) {
    for (size_t i = 0; i < isas.size(); ++i) std::printf("%s%s", i ? " " : "", isa_name(isas[i]));
    std::printf("\n");
    return 0;
  }

  const CpuFeatures& f = cpu_features();
  const IsaChoice& choice = isa_choice();
  std::printf("kernel_test: seed %#llx, cpu \"%s\" (%s)\n", static_cast<unsigned long long>(g_seed), f.brand.c_str(),
              f.vendor.c_str());
  std::printf("process ISA (prepared path): %s%s%s%s\n", isa_name(choice.isa),
              choice.requested.empty() ? "" : (" (SPARSENN_ISA=" + choice.requested + ")").c_str(),
              choice.note.empty() ? "" : "; note: ", choice.note.c_str());
  for (Isa i : kAllIsas) {
    const bool compiled = isa_compiled(i), supported = isa_supported(i);
    std::printf("  %-7s %s\n", isa_name(i),
                !compiled   ? "not compiled into this build: skipped"
                : !supported ? "compiled, but this CPU does not support it: SKIPPED"
                : prepared_only ? "compiled and supported (kernel tests skipped: --prepared-only)"
                                : "compiled and supported: testing");
  }
  std::fflush(stdout);

  const auto t0 = std::chrono::steady_clock::now();
  if (!prepared_only) {
    std::printf("kernels:\n");
    run_all_slots(collect(isas));
  }
  auto section = [&](const char* name, void (*fn)()) {
    const auto t = std::chrono::steady_clock::now();
    const int64_t before = g_report.passed() + g_report.failed(), failed = g_report.failed();
    fn();
    std::printf("  %-27s %lld cases, %lld failed (%.2f s)\n", name,
                static_cast<long long>(g_report.passed() + g_report.failed() - before),
                static_cast<long long>(g_report.failed() - failed), seconds_since(t));
    std::fflush(stdout);
  };
  std::printf("core:\n");
  section("prepared path (1, 2 threads)", test_prepared);
  section("invalid inputs to prepare_*", test_invalid_inputs);
  section("isa choice and tables", test_isa_choice);
  std::printf("total %.2f s\n", seconds_since(t0));
  std::printf("%lld passed, %lld failed\n", static_cast<long long>(g_report.passed()),
              static_cast<long long>(g_report.failed()));
  return g_report.failed() == 0 ? 0 : 1;
}
