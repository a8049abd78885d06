#include "core/cpu.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "kernels/ukernels.h"

#if SPARSENN_X86
#include <cpuid.h>
#endif

namespace sparsenn {
namespace {

#if SPARSENN_X86
uint64_t xgetbv0() {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned a, b, c, d;
  if (!__get_cpuid(0, &a, &b, &c, &d)) return f;
  const unsigned max_leaf = a;
  char vendor[13];
  std::memcpy(vendor, &b, 4);
  std::memcpy(vendor + 4, &d, 4);
  std::memcpy(vendor + 8, &c, 4);
  vendor[12] = 0;
  f.vendor = vendor;
  __get_cpuid(1, &a, &b, &c, &d);
  f.sse42 = c & bit_SSE4_2;
  f.fma = c & bit_FMA;
  f.f16c = c & bit_F16C;
  const bool osxsave = c & bit_OSXSAVE;
  f.avx = c & bit_AVX;
  if (osxsave) {
    const uint64_t xcr0 = xgetbv0();
    f.os_avx = (xcr0 & 0x6) == 0x6;       // XMM and YMM state
    f.os_avx512 = (xcr0 & 0xe6) == 0xe6;  // plus opmask, ZMM_Hi256, Hi16_ZMM
  }
  if (max_leaf >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    f.avx2 = b & bit_AVX2;
    f.avx512f = b & bit_AVX512F;
    f.avx512dq = b & bit_AVX512DQ;
    f.avx512bw = b & bit_AVX512BW;
    f.avx512vl = b & bit_AVX512VL;
  }
  unsigned ext = __get_cpuid_max(0x80000000, nullptr);
  if (ext >= 0x80000004) {
    char brand[49] = {0};
    for (unsigned i = 0; i < 3; ++i) {
      __get_cpuid(0x80000002 + i, &a, &b, &c, &d);
      std::memcpy(brand + 16 * i, &a, 4);
      std::memcpy(brand + 16 * i + 4, &b, 4);
      std::memcpy(brand + 16 * i + 8, &c, 4);
      std::memcpy(brand + 16 * i + 12, &d, 4);
    }
    f.brand = brand;
    while (!f.brand.empty() && f.brand.back() == ' ') f.brand.pop_back();
  }
  return f;
}
#else
CpuFeatures detect() {
  CpuFeatures f;
#if SPARSENN_ARM64
  f.neon = true;  // Advanced SIMD is mandatory on AArch64
  f.vendor = "arm";
#endif
  return f;
}
#endif

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

bool isa_supported(Isa isa) {
  const CpuFeatures& f = cpu_features();
  switch (isa) {
    case Isa::kScalar: return true;
    case Isa::kAvx2: return SPARSENN_X86 && f.avx2 && f.fma && f.os_avx;
    case Isa::kAvx512:
      return SPARSENN_X86 && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.os_avx512 &&
             isa_supported(Isa::kAvx2);
    case Isa::kNeon: return SPARSENN_ARM64 && f.neon;
  }
  return false;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return "scalar";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
    case Isa::kNeon: return "neon";
  }
  return "unknown";
}

bool isa_from_name(const std::string& name, Isa* out) {
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kNeon}) {
    if (name == isa_name(isa)) {
      *out = isa;
      return true;
    }
  }
  return false;
}

const IsaChoice& isa_choice() {
  static IsaChoice choice;
  static std::once_flag once;
  std::call_once(once, [] {
    Isa best = Isa::kScalar;
    for (Isa isa : {Isa::kNeon, Isa::kAvx2, Isa::kAvx512})
      if (isa_supported(isa)) best = isa;
    choice.isa = best;
    const char* env = std::getenv("SPARSENN_ISA");
    if (env && *env) {
      choice.requested = env;
      Isa wanted;
      if (!isa_from_name(env, &wanted)) {
        choice.note = std::string("SPARSENN_ISA=") + env +
                      " is not one of scalar, avx2, avx512, neon; using " + isa_name(best);
      } else if (!isa_supported(wanted)) {
        choice.note = std::string("SPARSENN_ISA=") + env + " is not supported by this CPU or build; using " +
                      isa_name(best);
      } else {
        choice.isa = wanted;
      }
    }
  });
  return choice;
}

}  // namespace sparsenn
