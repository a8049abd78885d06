{
  # The one build description of the CPU addon. Each ISA's kernels are a static library built
  # with only that ISA's flags; the addon itself is built for the baseline of its architecture
  # and picks a kernel table at run time (native/core/cpu.cc), so one x86-64 binary runs on any
  # x86-64 CPU. NEON kernels are built when the target is arm64.
  # -fno-math-errno -fno-trapping-math: nothing reads errno or FP exception flags, and without
  # them GCC keeps a branch for every float min/max/select, so element-wise loops do not vectorise.
  # sparsenn_sanitize=1 (`node-gyp rebuild -- -Dsparsenn_sanitize=1`, as
  # scripts/test-addon-sanitized.sh does in a separate folder) builds the addon with ASan and
  # UBSan; such a build loads only into a node started with libasan preloaded.
  "variables": {
    "sparsenn_common_cflags": ["-O3", "-std=c++17", "-fPIC", "-fno-math-errno", "-fno-trapping-math", "-Wall", "-Wextra", "-Wno-unused-parameter"],
    "sparsenn_sanitize%": "0",
    # SPARSENN_CUDA=1 (npm run build:cuda) adds the CUDA backend: native/cuda/*.cu compiled by
    # nvcc from CUDA_HOME (default /usr/local/cuda), the static CUDA runtime linked in.
    "sparsenn_cuda%": "<!(node -p \"process.env.SPARSENN_CUDA === '1' ? 1 : 0\")",
    "sparsenn_cuda_home%": "<!(node -p \"process.env.CUDA_HOME || process.env.CUDA_PATH || '/usr/local/cuda'\")",
    "sparsenn_cuda_gencode": ["-gencode", "arch=compute_75,code=sm_75", "-gencode", "arch=compute_80,code=sm_80", "-gencode", "arch=compute_90,code=sm_90", "-gencode", "arch=compute_90,code=compute_90"],
    "sparsenn_sanitize_flags": ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-g", "-O1"],
  },
  "target_defaults": {
    "include_dirs": ["native", "<!(node -p \"require('node-addon-api').include_dir\")"],
    "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
    "cflags_cc": ["<@(sparsenn_common_cflags)"],
    "xcode_settings": {
      "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
      "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
      "OTHER_CPLUSPLUSFLAGS": ["-O3"]
    },
    "msvs_settings": {"VCCLCompilerTool": {"ExceptionHandling": 1}},
    "conditions": [
      ["sparsenn_sanitize==1", {
        "cflags_cc": ["<@(sparsenn_sanitize_flags)"],
        "ldflags": ["<@(sparsenn_sanitize_flags)"]
      }]
    ]
  },
  "targets": [
    {
      "target_name": "sparsenn",
      "sources": [
        "native/addon.cc",
        "native/binding/addon_data.cc",
        "native/binding/args.cc",
        "native/binding/elementwise.cc",
        "native/binding/matrix_handle.cc",
        "native/binding/optim.cc",
        "native/binding/prepare.cc",
        "native/binding/products.cc",
        "native/binding/runtime.cc",
        "native/core/cpu.cc",
        "native/core/dense_product.cc",
        "native/core/elementwise.cc",
        "native/core/kernel_table.cc",
        "native/core/optim.cc",
        "native/core/prepared.cc",
        "native/core/sparse_conv.cc",
        "native/core/thread_pool.cc",
        "native/kernels/f32-csrspmm/f32-csrspmm-scalar.cc",
        "native/kernels/f32-csrspmv/f32-csrspmv-scalar.cc",
        "native/kernels/f32-csrspmmt/f32-csrspmmt-scalar.cc",
        "native/kernels/f32-sddmm/f32-sddmm-scalar.cc",
        "native/kernels/f32-bsrspmm/f32-bsrspmm-scalar.cc",
        "native/kernels/f32-gemm/f32-gemm-scalar.cc",
        "native/kernels/f32-spconv/f32-spconv-scalar.cc",
        "native/kernels/f32-vgelu/f32-vgelu-scalar.cc"
      ],
      "conditions": [
        ["target_arch=='x64'", {"dependencies": ["sparsenn_avx2", "sparsenn_avx512"]}],
        ["target_arch=='arm64'", {"dependencies": ["sparsenn_neon"]}],
        ["sparsenn_cuda==1", {
          "sources": [
            "native/binding/cuda.cc",
            "native/cuda/plan.cc",
            "native/cuda/device.cu",
            "native/cuda/csr_spmm.cu",
            "native/cuda/gemm.cu"
          ],
          "rules": [{
            "rule_name": "nvcc",
            "extension": "cu",
            "inputs": ["native/cuda/cuda_api.h", "native/cuda/cuda_check.h", "native/core/error.h"],
            "outputs": ["<(INTERMEDIATE_DIR)/<(RULE_INPUT_ROOT).o"],
            "action": ["<(sparsenn_cuda_home)/bin/nvcc", "-std=c++17", "-O3", "-Xcompiler", "-fPIC", "-I<(module_root_dir)/native",
                       "<@(sparsenn_cuda_gencode)", "-c", "<(RULE_INPUT_PATH)", "-o", "<(INTERMEDIATE_DIR)/<(RULE_INPUT_ROOT).o"],
            "message": "NVCC <(RULE_INPUT_PATH)",
            "process_outputs_as_sources": 1
          }],
          "libraries": ["<(sparsenn_cuda_home)/lib64/libcudart_static.a", "-ldl", "-lrt", "-lpthread"]
        }, {
          "sources": ["native/binding/cuda_off.cc"]
        }]
      ]
    }
  ],
  "conditions": [
    ["target_arch=='x64'", {
      "targets": [
        {
          "target_name": "sparsenn_avx2",
          "type": "static_library",
          "cflags_cc": ["-mavx2", "-mfma"],
          "xcode_settings": {"OTHER_CPLUSPLUSFLAGS": ["-O3", "-mavx2", "-mfma"]},
          "sources": [
            "native/kernels/f32-csrspmm/f32-csrspmm-avx2.cc",
            "native/kernels/f32-csrspmv/f32-csrspmv-avx2.cc",
            "native/kernels/f32-csrspmmt/f32-csrspmmt-avx2.cc",
            "native/kernels/f32-sddmm/f32-sddmm-avx2.cc",
            "native/kernels/f32-bsrspmm/f32-bsrspmm-avx2.cc",
            "native/kernels/f32-gemm/f32-gemm-avx2.cc",
            "native/kernels/f32-spconv/f32-spconv-avx2.cc",
            "native/kernels/f32-vgelu/f32-vgelu-avx2.cc"
          ]
        },
        {
          "target_name": "sparsenn_avx512",
          "type": "static_library",
          "cflags_cc": ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx2", "-mfma", "-Wno-maybe-uninitialized"],
          "xcode_settings": {"OTHER_CPLUSPLUSFLAGS": ["-O3", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx2", "-mfma"]},
          "sources": [
            "native/kernels/f32-csrspmm/f32-csrspmm-avx512.cc",
            "native/kernels/f32-csrspmv/f32-csrspmv-avx512.cc",
            "native/kernels/f32-csrspmmt/f32-csrspmmt-avx512.cc",
            "native/kernels/f32-sddmm/f32-sddmm-avx512.cc",
            "native/kernels/f32-bsrspmm/f32-bsrspmm-avx512.cc",
            "native/kernels/f32-gemm/f32-gemm-avx512.cc",
            "native/kernels/f32-spconv/f32-spconv-avx512.cc",
            "native/kernels/f32-vgelu/f32-vgelu-avx512.cc"
          ]
        }
      ]
    }],
    ["target_arch=='arm64'", {
      "targets": [
        {
          "target_name": "sparsenn_neon",
          "type": "static_library",
          "sources": [
            "native/kernels/f32-csrspmm/f32-csrspmm-neon.cc",
            "native/kernels/f32-csrspmv/f32-csrspmv-neon.cc",
            "native/kernels/f32-csrspmmt/f32-csrspmmt-neon.cc",
            "native/kernels/f32-sddmm/f32-sddmm-neon.cc",
            "native/kernels/f32-bsrspmm/f32-bsrspmm-neon.cc",
            "native/kernels/f32-gemm/f32-gemm-neon.cc",
            "native/kernels/f32-spconv/f32-spconv-neon.cc",
            "native/kernels/f32-vgelu/f32-vgelu-neon.cc"
          ]
        }
      ]
    }]
  ]
}
