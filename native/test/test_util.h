// Helpers for the native kernel test driver (kernel_test.cc): a seeded RNG, input and output
// buffers that expose out-of-bounds access, the float64 tolerance check and the pass/fail tally.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace sparsenn::test {

// splitmix64: tiny, seedable, identical on every platform (the NEON run under qemu draws the
// same cases as the x86 run).
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }  // [0, 1)
  float value() { return static_cast<float>(2.0 * uniform() - 1.0); }                          // [-1, 1)
  int64_t below(int64_t n) { return static_cast<int64_t>(next() % static_cast<uint64_t>(n)); }

 private:
  uint64_t s_;
};

inline uint64_t hash_str(const char* s) {  // FNV-1a, to derive one seed per test group
  uint64_t h = 0xcbf29ce484222325ull;
  for (; *s; ++s) h = (h ^ static_cast<unsigned char>(*s)) * 0x100000001b3ull;
  return h;
}

// A quiet NaN with a payload no kernel computes: outputs a kernel must not touch are filled
// with it and compared bit for bit afterwards.
inline float sentinel() {
  const uint32_t bits = 0xffc5a5a5u;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
inline bool same_bits(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }

// An input array of exactly `n` floats, starting 4 bytes into its allocation: a read past the
// end is a heap overflow under AddressSanitizer, and no kernel can assume 16-byte alignment.
class In {
 public:
  In() : buf_(1, 0.f) {}
  explicit In(int64_t n) : buf_(static_cast<size_t>(n) + 1, 0.f), n_(n) {}
  float* data() { return buf_.data() + 1; }
  const float* data() const { return buf_.data() + 1; }
  int64_t size() const { return n_; }
  float& operator[](int64_t i) { return buf_[static_cast<size_t>(i) + 1]; }
  float operator[](int64_t i) const { return buf_[static_cast<size_t>(i) + 1]; }

 private:
  std::vector<float> buf_;
  int64_t n_ = 0;
};

// An output array with guard zones on both sides (an odd number of floats, so the data is not
// 16-byte aligned either; callers size them to catch a whole row written past either end).
// Everything starts as the sentinel; snapshot() records what the buffer held before a kernel
// call so that check() can require the parts outside the expected range, and the guards, to be
// bit-for-bit unchanged.
class Out {
 public:
  explicit Out(int64_t n, int64_t guard = 37)
      : guard_(guard | 1), buf_(static_cast<size_t>(n + 2 * (guard | 1)), sentinel()), n_(n) {}
  float* data() { return buf_.data() + guard_; }
  const float* data() const { return buf_.data() + guard_; }
  int64_t size() const { return n_; }
  float& operator[](int64_t i) { return buf_[static_cast<size_t>(i + guard_)]; }
  float operator[](int64_t i) const { return buf_[static_cast<size_t>(i + guard_)]; }
  void fill_sentinel() { std::fill(buf_.begin(), buf_.end(), sentinel()); }
  void snapshot() { before_ = buf_; }
  float before(int64_t i) const { return before_[static_cast<size_t>(i + guard_)]; }
  bool guards_intact() const {
    for (int64_t i = 0; i < guard_; ++i)
      if (!same_bits(buf_[i], before_[i]) || !same_bits(buf_[n_ + guard_ + i], before_[n_ + guard_ + i]))
        return false;
    return true;
  }

 private:
  int64_t guard_;
  std::vector<float> buf_, before_;
  int64_t n_;
};

// float32 accumulation against a float64 reference: |y - ref| <= 1e-5 * mag + 1e-6, where
// mag is the sum of the absolute values of the terms (sum_k |a_mk x_kn|, plus |bias| or |y0|
// where those are added in).
inline double tolerance(double mag) { return 1e-5 * mag + 1e-6; }

inline std::string fmt(const char* f, double a) {
  char b[64];
  std::snprintf(b, sizeof b, f, a);
  return b;
}

inline std::string where(int64_t i, int64_t width) {
  if (width <= 1) return "[" + std::to_string(i) + "]";
  return "[" + std::to_string(i / width) + "," + std::to_string(i % width) + "]";
}

// Elements [lo, hi) of `y` must match ref within tolerance(mag); every other element and both
// guard zones must be unchanged since y.snapshot(). Returns "" or the first problem found.
inline std::string check(const Out& y, int64_t lo, int64_t hi, const std::vector<double>& ref,
                         const std::vector<double>& mag, int64_t width) {
  if (!y.guards_intact()) return "wrote outside the output array (guard zone changed)";
  for (int64_t i = 0; i < y.size(); ++i) {
    if (i >= lo && i < hi) {
      const double got = y[i], tol = tolerance(mag[i]);
      if (!(std::fabs(got - ref[i]) <= tol))
        return "y" + where(i, width) + " = " + fmt("%.9g", got) + ", expected " + fmt("%.9g", ref[i]) +
               " (tolerance " + fmt("%.3g", tol) + ")";
    } else if (!same_bits(y[i], y.before(i))) {
      return "y" + where(i, width) + " outside the range written was changed (now " + fmt("%.9g", y[i]) + ")";
    }
  }
  return "";
}

// Pass/fail tally: one line per failure, a summary at the end.
class Report {
 public:
  void record(const std::string& what, const std::string& problem) {
    if (problem.empty()) {
      ++passed_;
    } else {
      ++failed_;
      std::printf("FAIL %s: %s\n", what.c_str(), problem.c_str());
      std::fflush(stdout);
    }
  }
  int64_t passed() const { return passed_; }
  int64_t failed() const { return failed_; }

 private:
  int64_t passed_ = 0, failed_ = 0;
};

}  // namespace sparsenn::test
