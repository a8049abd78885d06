#include "core/kernel_table.h"

#include <cstdlib>
#include <cstring>

namespace sparsenn {
namespace {

struct Tables {
  KernelTable by_isa[4];
  Tables() {
    for (int i = 0; i < 4; ++i) by_isa[i].isa = static_cast<Isa>(i);
    // Tiles "MRxNR" name the panel shapes the preparation must match.
#define SPARSENN_UKERNEL(slot, isa, fn, tile)                              \
  {                                                                        \
    KernelTable& t = by_isa[static_cast<int>(isa_of_##isa)];               \
    t.slot = &fn;                                                          \
    if (std::strcmp(#slot, "gemm") == 0) t.gemm_mr = std::atoi(tile);      \
    if (std::strcmp(#slot, "csrspmm") == 0)                                \
      t.csrspmm_nr = std::atoi(std::strchr(tile, 'x') + 1);                \
  }
    constexpr Isa isa_of_scalar = Isa::kScalar, isa_of_avx2 = Isa::kAvx2,
                  isa_of_avx512 = Isa::kAvx512, isa_of_neon = Isa::kNeon;
    (void)isa_of_scalar, (void)isa_of_avx2, (void)isa_of_avx512, (void)isa_of_neon;
#include "kernels/all-kernels.inc"
#undef SPARSENN_UKERNEL
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

const KernelTable& kernels_for(Isa isa) { return tables().by_isa[static_cast<int>(isa)]; }

const KernelTable& kernels() {
  static const KernelTable* chosen = &kernels_for(isa_choice().isa);
  return *chosen;
}

std::vector<KernelInfo> list_kernels() {
  std::vector<KernelInfo> out;
  const Isa selected = isa_choice().isa;
#define SPARSENN_UKERNEL(slot, isa, fn, tile)                                                   \
  {                                                                                             \
    Isa i;                                                                                      \
    isa_from_name(#isa, &i);                                                                    \
    out.push_back(KernelInfo{#slot, #isa, #fn, tile, isa_supported(i), i == selected});         \
  }
#include "kernels/all-kernels.inc"
#undef SPARSENN_UKERNEL
  return out;
}

}  // namespace sparsenn
