// The CUDA backend's test driver (no Node): every kernel against a float64 reference computed
// here on the host, argument validation, and device memory returned after use; with --bench,
// timings of CSR SpMM at several sparsities against our dense GEMM (the numbers
// bench/cuda/torch_peer.py compares with PyTorch on the same shapes).
//
//   cuda_test                 run the tests; without a usable GPU print why and exit 0
//   cuda_test --require-gpu   the same, but no GPU is a failure
//   cuda_test --bench         benchmark table + JSON (needs a GPU)
//
// Built by scripts/build-cuda.sh (nvcc for the .cu files, the host compiler for this file).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "cuda/cuda_api.h"

using namespace sparsenn;
using namespace sparsenn::cuda;

namespace {

int g_passed = 0, g_failed = 0;

void expect(bool ok, const std::string& what) {
  if (ok) {
    ++g_passed;
  } else {
    ++g_failed;
    std::printf("FAIL: %s\n", what.c_str());
  }
}

struct Csr {
  int64_t rows = 0, cols = 0;
  std::vector<int32_t> row_ptr, col;
  std::vector<float> val;
};

// Each entry kept with probability `density`; with `edge_rows`, every 7th row (from row 3)
// forced empty and the middle row forced full (tests; the benchmark wants a plain density).
Csr random_csr(std::mt19937& rng, int64_t rows, int64_t cols, double density, bool edge_rows = true) {
  Csr a;
  a.rows = rows;
  a.cols = cols;
  a.row_ptr.push_back(0);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::uniform_real_distribution<double> keep(0.0, 1.0);
  for (int64_t r = 0; r < rows; ++r) {
    const bool empty = edge_rows && r % 7 == 3, full = edge_rows && r == rows / 2 && density > 0;
    for (int64_t c = 0; c < cols; ++c)
      if (!empty && (full || keep(rng) < density)) {
        a.col.push_back(static_cast<int32_t>(c));
        a.val.push_back(u(rng));
      }
    a.row_ptr.push_back(static_cast<int32_t>(a.col.size()));
  }
  return a;
}

std::vector<float> random_vec(std::mt19937& rng, size_t n) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

// |got - want| <= 1e-5 * (1 + sum |a||x|) per element: fp32 accumulation in any order.
bool close(const std::vector<float>& got, const std::vector<double>& want, const std::vector<double>& scale, double rel, std::string* where) {
  for (size_t i = 0; i < want.size(); ++i) {
    const double tol = rel * (1.0 + scale[i]);
    if (!(std::fabs(got[i] - want[i]) <= tol)) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "element %zu: got %.7g, want %.7g (tolerance %.3g)", i, got[i], want[i], tol);
      *where = buf;
      return false;
    }
  }
  return true;
}

void reference(const Csr& a, const std::vector<float>& x, int64_t n, const float* bias, bool relu, std::vector<double>& y, std::vector<double>& scale) {
  y.assign(static_cast<size_t>(a.rows * n), 0.0);
  scale.assign(y.size(), 0.0);
  for (int64_t r = 0; r < a.rows; ++r)
    for (int64_t j = 0; j < n; ++j) {
      double s = bias ? bias[r] : 0.0, m = bias ? std::fabs(bias[r]) : 0.0;
      for (int32_t p = a.row_ptr[r]; p < a.row_ptr[r + 1]; ++p) {
        s += static_cast<double>(a.val[p]) * x[static_cast<size_t>(a.col[p] * n + j)];
        m += std::fabs(static_cast<double>(a.val[p]) * x[static_cast<size_t>(a.col[p] * n + j)]);
      }
      y[static_cast<size_t>(r * n + j)] = relu ? std::max(s, 0.0) : s;
      scale[static_cast<size_t>(r * n + j)] = m;
    }
}

std::vector<float> dense_of(const Csr& a) {
  std::vector<float> d(static_cast<size_t>(a.rows * a.cols), 0.0f);
  for (int64_t r = 0; r < a.rows; ++r)
    for (int32_t p = a.row_ptr[r]; p < a.row_ptr[r + 1]; ++p) d[static_cast<size_t>(r * a.cols + a.col[p])] = a.val[p];
  return d;
}

// Runs `multiply` (a DeviceCsr's or a DeviceDense's) on uploaded x and bias, downloads y.
template <typename M>
std::vector<float> run(const M& m, const std::vector<float>& x, int64_t n, const std::vector<float>* bias, bool relu, Stream& s, int64_t rows) {
  DeviceBuffer dx(sizeof(float) * x.size() + 16), dy(sizeof(float) * static_cast<size_t>(rows * n) + 16), db(bias ? sizeof(float) * bias->size() : 0);
  dx.upload(x.data(), sizeof(float) * x.size());
  if (bias) db.upload(bias->data(), sizeof(float) * bias->size());
  m.multiply(static_cast<const float*>(dx.get()), n, static_cast<float*>(dy.get()), bias ? static_cast<const float*>(db.get()) : nullptr,
             relu ? Activation::relu : Activation::none, s);
  s.synchronize();
  std::vector<float> y(static_cast<size_t>(rows * n));
  dy.download(y.data(), sizeof(float) * y.size());
  return y;
}

void test_products() {
  std::mt19937 rng(20261125);
  const int64_t shapes[][2] = {{1, 1}, {1, 37}, {37, 1}, {64, 64}, {65, 130}, {300, 257}, {1024, 768}};
  const double densities[] = {0.0, 0.05, 0.3, 1.0};
  const int64_t batches[] = {1, 2, 3, 4, 7, 8, 128, 130, 513};
  Stream s;
  for (const auto& sh : shapes)
    for (double d : densities)
      for (int64_t n : batches) {
        if (sh[0] * sh[1] * n > 50'000'000) continue;
        const Csr a = random_csr(rng, sh[0], sh[1], d);
        const auto x = random_vec(rng, static_cast<size_t>(sh[1] * n));
        const auto bias = random_vec(rng, static_cast<size_t>(sh[0]));
        for (int variant = 0; variant < 2; ++variant) {
          const bool relu = variant == 1;
          const std::vector<float>* b = variant == 1 ? &bias : nullptr;
          std::vector<double> want, scale;
          reference(a, x, n, b ? b->data() : nullptr, relu, want, scale);
          char name[160];
          std::snprintf(name, sizeof name, "%lld x %lld density %.2f, n %lld%s", static_cast<long long>(sh[0]), static_cast<long long>(sh[1]), d,
                        static_cast<long long>(n), relu ? ", bias + relu" : "");
          std::string where;
          DeviceCsr dc(a.rows, a.cols, a.row_ptr.data(), a.col.data(), a.val.data());
          expect(close(run(dc, x, n, b, relu, s, a.rows), want, scale, 1e-5, &where), std::string("csr spmm ") + name + ": " + where);
          const auto dense = dense_of(a);
          DeviceDense dd(a.rows, a.cols, dense.data());
          expect(close(run(dd, x, n, b, relu, s, a.rows), want, scale, 1e-5, &where), std::string("dense gemm ") + name + ": " + where);
        }
      }
}

void test_wmma(const DeviceInfo& info) {
  if (info.major < 7) {
    std::printf("  wmma fp16: skipped (compute capability %d.%d < 7.0)\n", info.major, info.minor);
    return;
  }
  std::mt19937 rng(7);
  Stream s;
  const int64_t shapes[][3] = {{16, 16, 16}, {32, 48, 64}, {256, 128, 768}};
  for (const auto& sh : shapes) {
    const int64_t m = sh[0], n = sh[1], k = sh[2];
    const auto a = random_vec(rng, static_cast<size_t>(m * k)), x = random_vec(rng, static_cast<size_t>(k * n));
    DeviceBuffer da(4 * a.size()), dx(4 * x.size()), ha(2 * a.size()), hx(2 * x.size()), dy(4 * static_cast<size_t>(m * n));
    da.upload(a.data(), 4 * a.size());
    dx.upload(x.data(), 4 * x.size());
    to_half(static_cast<const float*>(da.get()), ha.get(), m * k, s);
    to_half(static_cast<const float*>(dx.get()), hx.get(), k * n, s);
    // The reference uses the fp16-rounded inputs, read back from the device.
    from_half(ha.get(), static_cast<float*>(da.get()), m * k, s);
    from_half(hx.get(), static_cast<float*>(dx.get()), k * n, s);
    gemm_f16_wmma(ha.get(), hx.get(), static_cast<float*>(dy.get()), m, n, k, s);
    s.synchronize();
    std::vector<float> ar(a.size()), xr(x.size()), y(static_cast<size_t>(m * n));
    da.download(ar.data(), 4 * ar.size());
    dx.download(xr.data(), 4 * xr.size());
    dy.download(y.data(), 4 * y.size());
    std::vector<double> want(y.size()), scale(y.size());
    for (int64_t r = 0; r < m; ++r)
      for (int64_t c = 0; c < n; ++c) {
        double sum = 0, mag = 0;
        for (int64_t p = 0; p < k; ++p) {
          sum += static_cast<double>(ar[r * k + p]) * xr[p * n + c];
          mag += std::fabs(static_cast<double>(ar[r * k + p]) * xr[p * n + c]);
        }
        want[r * n + c] = sum;
        scale[r * n + c] = mag;
      }
    std::string where;
    expect(close(y, want, scale, 1e-5, &where), "wmma fp16 " + std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k) + ": " + where);
  }
  bool threw = false;
  try {
    gemm_f16_wmma(nullptr, nullptr, nullptr, 16, 17, 16, s);
  } catch (const CoreError& e) {
    threw = std::strcmp(e.code(), "ERR_SHAPE") == 0;
  }
  expect(threw, "wmma rejects n = 17 with ERR_SHAPE");
}

void expect_error(const char* code, const std::function<void()>& f, const std::string& what) {
  try {
    f();
  } catch (const CoreError& e) {
    expect(std::strcmp(e.code(), code) == 0, what + ": expected " + code + ", got " + e.code() + " (" + e.what() + ")");
    return;
  }
  expect(false, what + ": expected " + code + ", nothing was thrown");
}

void test_validation() {
  const int32_t rp_bad0[] = {1, 1}, rp_dec[] = {0, 2, 1}, rp_ok[] = {0, 1, 2}, col_bad[] = {0, 5}, col_neg[] = {-1, 0};
  const float val[] = {1, 2};
  expect_error("ERR_FORMAT", [&] { DeviceCsr(1, 4, rp_bad0, col_bad, val); }, "row_ptr[0] != 0");
  expect_error("ERR_FORMAT", [&] { DeviceCsr(2, 4, rp_dec, col_bad, val); }, "decreasing row pointers");
  expect_error("ERR_RANGE", [&] { DeviceCsr(2, 4, rp_ok, col_bad, val); }, "column index past the end");
  expect_error("ERR_RANGE", [&] { DeviceCsr(2, 4, rp_ok, col_neg, val); }, "negative column index");
  expect_error("ERR_SHAPE", [&] { DeviceCsr(-1, 4, rp_ok, col_bad, val); }, "negative rows");
  expect_error("ERR_SHAPE", [&] { DeviceDense(1LL << 32, 1, val); }, "dense rows over 2^31 - 1");
  Stream s;
  const int32_t col_ok[] = {0, 3};
  DeviceCsr ok(2, 4, rp_ok, col_ok, val);
  expect_error("ERR_SHAPE", [&] { ok.multiply(nullptr, -1, nullptr, nullptr, Activation::none, s); }, "negative batch");
}

// A three-layer chain on the device against the same chain computed here in float64.
void test_plan() {
  std::mt19937 rng(11);
  const size_t before = bytes_in_use();
  {
    const Csr a = random_csr(rng, 96, 50, 0.2), c = random_csr(rng, 10, 64, 0.5);
    const Csr bsrc = random_csr(rng, 64, 96, 1.0);
    const auto b = dense_of(bsrc);
    const auto bias_a = random_vec(rng, 96), bias_c = random_vec(rng, 10);
    Plan plan;
    plan.add_csr(a.rows, a.cols, a.row_ptr.data(), a.col.data(), a.val.data(), bias_a.data(), Activation::relu);
    plan.add_dense(64, 96, b.data(), nullptr, Activation::relu);
    plan.add_csr(c.rows, c.cols, c.row_ptr.data(), c.col.data(), c.val.data(), bias_c.data(), Activation::none);
    expect(plan.in_features() == 50 && plan.out_features() == 10, "plan features");
    expect_error("ERR_SHAPE", [&] { plan.add_dense(4, 11, b.data(), nullptr, Activation::none); }, "a layer whose input does not match the previous output");
    for (int64_t n : {1, 5, 64, 257}) {
      const auto x = random_vec(rng, static_cast<size_t>(50 * n));
      std::vector<double> h1, s1, h2, s2, h3, s3;
      reference(a, x, n, bias_a.data(), true, h1, s1);
      std::vector<float> f1(h1.begin(), h1.end());
      reference(bsrc, f1, n, nullptr, true, h2, s2);
      std::vector<float> f2(h2.begin(), h2.end());
      reference(c, f2, n, bias_c.data(), false, h3, s3);
      // Tolerance 1e-4 of the last layer's magnitudes: loose for the fp32 error carried through
      // three layers (~1e-6 relative), tight for a wrong layer or batch mapping (off by O(1)).
      std::vector<float> y(static_cast<size_t>(10 * n));
      plan.run(x.data(), n, y.data());
      std::string where;
      expect(close(y, h3, s3, 1e-4, &where), "plan of 3 layers, n " + std::to_string(n) + ": " + where);
    }
  }
  expect(bytes_in_use() == before, "a destroyed plan frees its device memory");
}

void test_memory() {
  const size_t before = bytes_in_use();
  {
    std::mt19937 rng(3);
    const Csr a = random_csr(rng, 500, 400, 0.1);
    DeviceCsr dc(a.rows, a.cols, a.row_ptr.data(), a.col.data(), a.val.data());
    Stream s;
    s.scratch(0, 1 << 20);
    expect(bytes_in_use() > before, "uploads are counted in bytes_in_use");
  }
  expect(bytes_in_use() == before, "every device buffer is freed (" + std::to_string(bytes_in_use()) + " bytes still held, " + std::to_string(before) + " before)");
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Median of `reps` timed batches of `inner` launches each, in ms per launch.
double time_ms(const std::function<void()>& launch, Stream& s, int reps = 15, int inner = 20) {
  launch();
  s.synchronize();
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < inner; ++i) launch();
    s.synchronize();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / inner);
  }
  return median(t);
}

int bench() {
  std::mt19937 rng(1);
  Stream s;
  // Transformer-sized layers (the MLP block of bench/models.ts and a square one), batch 256.
  const int64_t shapes[][3] = {{3072, 768, 256}, {768, 3072, 256}, {4096, 4096, 256}};
  std::printf("{\"rows\": [\n");
  bool first = true;
  for (const auto& sh : shapes) {
    const int64_t m = sh[0], k = sh[1], n = sh[2];
    const auto x = random_vec(rng, static_cast<size_t>(k * n));
    DeviceBuffer dx(4 * x.size()), dy(4 * static_cast<size_t>(m * n));
    dx.upload(x.data(), 4 * x.size());
    const Csr full = random_csr(rng, m, k, 1.0, false);
    DeviceDense dd(m, k, dense_of(full).data());
    const double dense_ms = time_ms([&] { dd.multiply(static_cast<const float*>(dx.get()), n, static_cast<float*>(dy.get()), nullptr, Activation::none, s); }, s);
    for (double sparsity : {0.7, 0.9, 0.95}) {
      const Csr a = random_csr(rng, m, k, 1.0 - sparsity, false);
      DeviceCsr dc(a.rows, a.cols, a.row_ptr.data(), a.col.data(), a.val.data());
      const double ms = time_ms([&] { dc.multiply(static_cast<const float*>(dx.get()), n, static_cast<float*>(dy.get()), nullptr, Activation::none, s); }, s);
      std::printf("%s  {\"m\": %lld, \"k\": %lld, \"n\": %lld, \"sparsity\": %.2f, \"csr_ms\": %.5f, \"dense_ms\": %.5f, \"speedup_vs_our_dense\": %.3f}",
                  first ? "" : ",\n", static_cast<long long>(m), static_cast<long long>(k), static_cast<long long>(n), sparsity, ms, dense_ms, dense_ms / ms);
      first = false;
    }
  }
  std::printf("\n]}\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool require = false, do_bench = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--require-gpu") == 0) require = true;
    else if (std::strcmp(argv[i], "--bench") == 0) do_bench = true;
    else {
      std::fprintf(stderr, "usage: %s [--require-gpu] [--bench]\n", argv[0]);
      return 2;
    }
  }
  const DeviceInfo info = device_info();
  std::printf("cuda_test: runtime %d, driver %d\n", info.runtime_version, info.driver_version);
  if (!info.available) {
    std::printf("cuda_test: SKIPPED: %s\n", info.reason.c_str());
    return require || do_bench ? 1 : 0;
  }
  std::printf("cuda_test: device %d \"%s\", compute capability %d.%d, %d SMs, %.1f GiB\n", info.device, info.name.c_str(), info.major, info.minor,
              info.multiprocessors, info.total_memory / 1073741824.0);
  try {
    if (do_bench) return bench();
    test_validation();
    test_products();
    test_wmma(info);
    test_plan();
    test_memory();
  } catch (const std::exception& e) {
    std::printf("FAIL: unexpected exception: %s\n", e.what());
    ++g_failed;
  }
  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
