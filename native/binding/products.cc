// The products: matmul (Y = A X + bias, ReLU), matmulTransposed (Y = A^T X) and sddmm, each
// synchronous or asynchronous (binding/jobs.h): both forms parse and check their arguments
// identically on the JS thread and then run the same job.
#include <cstring>
#include <functional>
#include <memory>
#include <vector>

#include "binding/exports.h"
#include "binding/guard.h"
#include "binding/jobs.h"
#include "binding/matrix_handle.h"
#include "core/dense_product.h"
#include "core/prepared.h"

namespace sparsenn::binding {
namespace {

constexpr int64_t kMaxElements = (int64_t(1) << 31) - 1;

int64_t checked_product(Napi::Env env, int64_t a, int64_t b, const char* what) {
  if (a != 0 && b > kMaxElements / a)
    throw_error(env, "ERR_RANGE", std::string(what) + " would have more than 2^31 - 1 elements");
  return a * b;
}

// The output array: the caller's `out` (checked for length and for not overlapping any input)
// or a new Float32Array.
Napi::Float32Array output(const Napi::CallbackInfo& info, size_t i, int64_t len,
                          std::initializer_list<Napi::TypedArray> inputs) {
  Napi::Env env = info.Env();
  Napi::Float32Array out = get_optional_array<float>(info, i, "out");
  if (out.IsEmpty()) return Napi::Float32Array::New(env, static_cast<size_t>(len));
  check_length(env, out.ElementLength(), len, "out");
  check_no_alias(env, out, inputs);
  return out;
}

// (handle, x: Float32Array, n, bias: Float32Array | null, relu: boolean, out?: Float32Array)
Job parse_matmul(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<PreparedMatrix> a = MatrixHandle::From(info, 0);
  Napi::Float32Array x = get_array<float>(info, 1, "x");
  const int64_t n = get_count(info, 2, "n", kMaxElements + 1);
  Napi::Float32Array bias = get_optional_array<float>(info, 3, "bias");
  const bool relu = info[4].ToBoolean().Value();
  // A matrix reads cols x n and writes rows x n; a direct convolution reads the image and
  // writes the output image (core/prepared.h input_rows / output_rows).
  const bool conv = std::strcmp(a->format(), "conv") == 0;
  check_length(env, x.ElementLength(), checked_product(env, a->input_rows(), n, "x"), conv ? "x (c * h * w * n)" : "x (cols * n)");
  if (!bias.IsEmpty()) check_length(env, bias.ElementLength(), a->rows(), conv ? "bias (output channels)" : "bias (rows)");
  Napi::Float32Array y = output(info, 5, checked_product(env, a->output_rows(), n, "the result"), {x, bias});
  const float* xp = x.Data();
  float* yp = y.Data();
  const Epilogue ep{bias.IsEmpty() ? nullptr : bias.Data(), relu};
  Job job;
  job.run = [a, xp, n, yp, ep] { a->multiply(xp, n, yp, ep); };
  job.result = y;
  job.keep = {info[0], x, y};
  if (!bias.IsEmpty()) job.keep.push_back(bias);
  return job;
}

std::shared_ptr<CsrPrepared> csr_from(const Napi::CallbackInfo& info, size_t i, const char* op) {
  std::shared_ptr<PreparedMatrix> m = MatrixHandle::From(info, i);
  auto csr = std::dynamic_pointer_cast<CsrPrepared>(m);
  if (!csr)
    throw_error(info.Env(), "ERR_FORMAT", std::string(op) + " needs a CSR or N:M matrix, got " + m->format());
  return csr;
}

// (handle, x: Float32Array (rows x n), n, out?)
Job parse_transposed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<CsrPrepared> a = csr_from(info, 0, "matmulTransposed");
  Napi::Float32Array x = get_array<float>(info, 1, "x");
  const int64_t n = get_count(info, 2, "n", kMaxElements + 1);
  check_length(env, x.ElementLength(), checked_product(env, a->rows(), n, "x"), "x (rows * n)");
  Napi::Float32Array y = output(info, 3, checked_product(env, a->cols(), n, "the result"), {x});
  const float* xp = x.Data();
  float* yp = y.Data();
  Job job;
  job.run = [a, xp, n, yp] { a->multiply_transposed(xp, n, yp); };
  job.result = y;
  job.keep = {info[0], x, y};
  return job;
}

// (pattern handle, a: Float32Array (rows x n), b: Float32Array (cols x n), n, out?)
Job parse_sddmm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<CsrPrepared> p = csr_from(info, 0, "sddmm");
  Napi::Float32Array a = get_array<float>(info, 1, "a");
  Napi::Float32Array b = get_array<float>(info, 2, "b");
  const int64_t n = get_count(info, 3, "n", kMaxElements + 1);
  check_length(env, a.ElementLength(), checked_product(env, p->rows(), n, "a"), "a (rows * n)");
  check_length(env, b.ElementLength(), checked_product(env, p->cols(), n, "b"), "b (cols * n)");
  Napi::Float32Array out = output(info, 4, p->nnz(), {a, b});
  const float* ap = a.Data();
  const float* bp = b.Data();
  float* op = out.Data();
  Job job;
  job.run = [p, ap, bp, n, op] { p->sddmm(ap, bp, n, op); };
  job.result = out;
  job.keep = {info[0], a, b, out};
  return job;
}

// (m, k, n, a: Float32Array, transA: boolean, x: Float32Array, transX: boolean, out?, bias?)
// Y (m x n) = op(A) op(X): the training engine's dense products, with no prepared handle.
Job parse_gemm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t m = get_count(info, 0, "m", kMaxElements + 1);
  const int64_t k = get_count(info, 1, "k", kMaxElements + 1);
  const int64_t n = get_count(info, 2, "n", kMaxElements + 1);
  Napi::Float32Array a = get_array<float>(info, 3, "a");
  const bool trans_a = info[4].ToBoolean().Value();
  Napi::Float32Array x = get_array<float>(info, 5, "x");
  const bool trans_x = info[6].ToBoolean().Value();
  check_length(env, a.ElementLength(), checked_product(env, m, k, "a"), "a (m * k)");
  check_length(env, x.ElementLength(), checked_product(env, k, n, "x"), "x (k * n)");
  Napi::Float32Array bias = get_optional_array<float>(info, 8, "bias");
  if (!bias.IsEmpty()) check_length(env, bias.ElementLength(), m, "bias (m)");
  Napi::Float32Array y = output(info, 7, checked_product(env, m, n, "the result"), {a, x, bias});
  const float* ap = a.Data();
  const float* xp = x.Data();
  const float* bp = bias.IsEmpty() ? nullptr : bias.Data();
  float* yp = y.Data();
  Job job;
  job.run = [=] { dense_product(m, k, n, ap, trans_a, xp, trans_x, yp, bp); };
  job.result = y;
  job.keep = {a, x, y};
  if (!bias.IsEmpty()) job.keep.push_back(bias);
  return job;
}

// (rows, cols, src: Float32Array, out?) -> the cols x rows transpose: sample-major batches to
// the batch-last layout and back.
Job parse_transpose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t rows = get_count(info, 0, "rows", kMaxElements + 1);
  const int64_t cols = get_count(info, 1, "cols", kMaxElements + 1);
  Napi::Float32Array src = get_array<float>(info, 2, "src");
  check_length(env, src.ElementLength(), checked_product(env, rows, cols, "src"), "src (rows * cols)");
  Napi::Float32Array out = output(info, 3, rows * cols, {src});
  const float* sp = src.Data();
  float* op = out.Data();
  Job job;
  job.run = [=] { transpose(sp, rows, cols, op); };
  job.result = out;
  job.keep = {src, out};
  return job;
}

}  // namespace

Napi::Value Matmul(const Napi::CallbackInfo& info) { return run_sync(info, parse_matmul); }
Napi::Value MatmulAsync(const Napi::CallbackInfo& info) { return run_async(info, parse_matmul); }
Napi::Value MatmulTransposed(const Napi::CallbackInfo& info) { return run_sync(info, parse_transposed); }
Napi::Value MatmulTransposedAsync(const Napi::CallbackInfo& info) { return run_async(info, parse_transposed); }
Napi::Value Gemm(const Napi::CallbackInfo& info) { return run_sync(info, parse_gemm); }
Napi::Value GemmAsync(const Napi::CallbackInfo& info) { return run_async(info, parse_gemm); }
Napi::Value Transpose(const Napi::CallbackInfo& info) { return run_sync(info, parse_transpose); }
Napi::Value Sddmm(const Napi::CallbackInfo& info) { return run_sync(info, parse_sddmm); }
Napi::Value SddmmAsync(const Napi::CallbackInfo& info) { return run_async(info, parse_sddmm); }

}  // namespace sparsenn::binding
