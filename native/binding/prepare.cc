// prepareCsr / prepareNm / prepareBsr / prepareDense: validate and copy a matrix into native
// memory, returning a NativeMatrix handle.
#include "binding/exports.h"
#include "binding/guard.h"
#include "binding/matrix_handle.h"
#include "core/prepared.h"
#include "core/sparse_conv.h"

namespace sparsenn::binding {

// (rows, cols, rowPtr: Int32Array, colIdx: Int32Array, values: Float32Array)
Napi::Value PrepareCsr(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    const int64_t rows = get_count(info, 0, "rows"), cols = get_count(info, 1, "cols");
    auto rp = get_array<int32_t>(info, 2, "rowPtr");
    auto ci = get_array<int32_t>(info, 3, "colIdx");
    auto v = get_array<float>(info, 4, "values");
    return MatrixHandle::Wrap(info.Env(), prepare_csr(rows, cols, rp.Data(), rp.ElementLength(), ci.Data(),
                                                      ci.ElementLength(), v.Data(), v.ElementLength()));
  });
}

// (rows, cols, n, m, values: Float32Array, indices: Uint8Array)
Napi::Value PrepareNm(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    const int64_t rows = get_count(info, 0, "rows"), cols = get_count(info, 1, "cols");
    const int64_t n = get_count(info, 2, "n", 256), m = get_count(info, 3, "m", 256);
    auto v = get_array<float>(info, 4, "values");
    auto idx = get_array<uint8_t>(info, 5, "indices");
    return MatrixHandle::Wrap(info.Env(), prepare_nm(rows, cols, static_cast<int32_t>(n), static_cast<int32_t>(m),
                                                     v.Data(), v.ElementLength(), idx.Data(), idx.ElementLength()));
  });
}

// (rows, cols, blockRows, blockCols, rowPtr: Int32Array, colIdx: Int32Array, values: Float32Array)
Napi::Value PrepareBsr(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    const int64_t rows = get_count(info, 0, "rows"), cols = get_count(info, 1, "cols");
    const int64_t br = get_count(info, 2, "blockRows", 1 << 16), bc = get_count(info, 3, "blockCols", 1 << 16);
    auto rp = get_array<int32_t>(info, 4, "rowPtr");
    auto ci = get_array<int32_t>(info, 5, "colIdx");
    auto v = get_array<float>(info, 6, "values");
    return MatrixHandle::Wrap(info.Env(),
                              prepare_bsr(rows, cols, static_cast<int32_t>(br), static_cast<int32_t>(bc), rp.Data(),
                                          rp.ElementLength(), ci.Data(), ci.ElementLength(), v.Data(), v.ElementLength()));
  });
}

// (rows, cols, data: Float32Array)
Napi::Value PrepareDense(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    const int64_t rows = get_count(info, 0, "rows"), cols = get_count(info, 1, "cols");
    auto d = get_array<float>(info, 2, "data");
    return MatrixHandle::Wrap(info.Env(), prepare_dense(rows, cols, d.Data(), d.ElementLength()));
  });
}

}  // namespace sparsenn::binding

namespace sparsenn::binding {

// (handle, values: Float32Array): new values for a CSR / N:M matrix's existing pattern.
Napi::Value CsrSetValues(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    std::shared_ptr<PreparedMatrix> m = MatrixHandle::From(info, 0);
    auto csr = std::dynamic_pointer_cast<CsrPrepared>(m);
    if (!csr) throw_error(info.Env(), "ERR_FORMAT", std::string("csrSetValues needs a CSR or N:M matrix, got ") + m->format());
    // The handle and the two locals hold three references; more means an async product holds it.
    if (csr.use_count() > 3)
      throw_error(info.Env(), "ERR_BUSY", "the matrix is in use by an unfinished async product; await it before changing values");
    auto v = get_array<float>(info, 1, "values");
    csr->set_values(v.Data(), v.ElementLength());
    MatrixHandle::Report(info, 0);
    return info.Env().Undefined();
  });
}

// (rows, cols, groups, geometry: Int32Array [c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow],
//  rowPtr: Int32Array, colIdx: Int32Array, values: Float32Array): a pruned convolution for the
// direct sparse kernel; products then take the image [c, h, w, n] itself as X.
Napi::Value PrepareConv(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    const int64_t rows = get_count(info, 0, "rows"), cols = get_count(info, 1, "cols");
    const int64_t groups = get_count(info, 2, "groups");
    auto geo = get_array<int32_t>(info, 3, "geometry");
    if (geo.ElementLength() != 13)
      throw_error(info.Env(), "ERR_SHAPE", "geometry must hold 13 integers [c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow]");
    const int32_t* v = geo.Data();
    const ConvGeometry g{v[0], v[1], v[2], 0, v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12]};
    auto rp = get_array<int32_t>(info, 4, "rowPtr");
    auto ci = get_array<int32_t>(info, 5, "colIdx");
    auto val = get_array<float>(info, 6, "values");
    return MatrixHandle::Wrap(info.Env(), prepare_conv(rows, cols, groups, g, rp.Data(), rp.ElementLength(), ci.Data(),
                                                       ci.ElementLength(), val.Data(), val.ElementLength()));
  });
}

}  // namespace sparsenn::binding
