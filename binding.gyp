{
  "targets": [
    {
      "target_name": "streamnest",
      "sources": [
        "native/src/addon.cc",
        "native/src/tensor.cc",
        "native/src/generator.cc",
        "native/src/dispatch.cc",
        "native/src/runtime.cc",
        "native/src/autocast.cc",
        "native/src/distributed.cc",
        "native/src/cpu-allocator.cc",
        "native/src/small-products.cc",
        "native/src/step-kernels.cc",
        "native/src/dropout-mask.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node native/libtorch.mjs include)"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "USE_C10D_GLOO"],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-O2", "-Wno-unused-parameter", "-Wno-deprecated-declarations", "<!@(node native/libtorch.mjs cflags)"],
      "libraries": ["-L<!(node native/libtorch.mjs libdir)", "<!@(node native/libtorch.mjs libs)", "<!@(node native/libtorch.mjs rpath)"]
    }
  ]
}
