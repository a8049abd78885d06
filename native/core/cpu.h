// CPU feature detection and the choice of one ISA path per process.
#pragma once
#include <string>

namespace sparsenn {

enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2, kNeon = 3 };

struct CpuFeatures {
  bool sse42 = false, avx = false, avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool os_avx = false, os_avx512 = false;  // XGETBV: the OS saves the wider registers
  bool neon = false;
  std::string vendor, brand;
};

const CpuFeatures& cpu_features();
bool isa_supported(Isa isa);
const char* isa_name(Isa isa);
bool isa_from_name(const std::string& name, Isa* out);

struct IsaChoice {
  Isa isa;
  std::string requested;  // SPARSENN_ISA as given ("" when unset)
  std::string note;       // why the request was not honoured, if it was not
};
// Read SPARSENN_ISA and the CPU once (std::call_once); the result never changes afterwards.
const IsaChoice& isa_choice();

}  // namespace sparsenn
