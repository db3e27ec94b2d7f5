{
  "targets": [
    {
      "target_name": "lumen_native",
      "sources": ["src/addon.cc", "src/gemm.cc", "src/conv.cc", "src/depthwise.cc", "src/pool.cc", "src/optim.cc", "src/pool2d.cc", "src/batchnorm.cc", "src/peak.cc", "src/elementwise.cc", "src/roi.cc"],
      "cflags_cc": ["-O3", "-std=c++17", "-fexceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++14"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "OTHER_CPLUSPLUSFLAGS": ["-O3"]
      },
      "msvs_settings": { "VCCLCompilerTool": { "ExceptionHandling": 1 } }
    }
  ]
}
