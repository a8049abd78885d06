// The dispatch table: one function pointer per kernel slot, filled for the ISA chosen once
// per process (core/cpu.h). Products look kernels up here and nowhere else.
#pragma once
#include <string>
#include <vector>

#include "core/cpu.h"
#include "kernels/ukernels.h"

namespace sparsenn {

struct KernelTable {
  Isa isa = Isa::kScalar;
  int gemm_mr = 1;      // GEMM panel height (from the gemm tile "MRxNR")
  int csrspmm_nr = 1;   // CSR SpMM panel width (from the csrspmm tile "1xNR")
  // One member per slot. Every slot has a scalar kernel, so the scalar lines of the list
  // name each slot exactly once; the other ISAs' lines expand to nothing here.
#define SPARSENN_MEMBER_scalar(slot) slot##_t* slot = nullptr;
#define SPARSENN_MEMBER_avx2(slot)
#define SPARSENN_MEMBER_avx512(slot)
#define SPARSENN_MEMBER_neon(slot)
#define SPARSENN_UKERNEL(slot, isa, fn, tile) SPARSENN_MEMBER_##isa(slot)
#include "kernels/all-kernels.inc"
#undef SPARSENN_UKERNEL
};

// The table for the process's ISA (SPARSENN_ISA or the best the CPU supports).
const KernelTable& kernels();
// The table for a given ISA (used by the native test driver to cover every path).
const KernelTable& kernels_for(Isa isa);

struct KernelInfo {
  std::string slot, isa, name, tile;
  bool available, selected;
};
std::vector<KernelInfo> list_kernels();

}  // namespace sparsenn
