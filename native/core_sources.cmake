# The native core's sources (core, cpu, reference, model) and their per-file SIMD flags, in one
# place for every build that compiles the core: the root CMakeLists.txt (addon, tools, CUDA
# variant) and the two fake-CUDA builds (native/cuda/model/fake and its addon/).
# Runtime CPU dispatch: each SIMD level lives in files named *_avx2.cpp / *_avx512.cpp compiled
# with that level's flags only; everything else is built for baseline x86-64. Never -march=native.
# On aarch64 the x86 level files are left out and *_neon.cpp are built (NEON is in the ARMv8-A
# baseline, so they need no flags); on x86 *_neon.cpp are left out.
# Source file properties are per directory, so each CMakeLists includes this rather than sharing
# a target. Sets DILBENCH_CORE_SOURCES.
file(GLOB DILBENCH_CORE_SOURCES CONFIGURE_DEPENDS
  ${CMAKE_CURRENT_LIST_DIR}/core/*.cpp
  ${CMAKE_CURRENT_LIST_DIR}/cpu/*.cpp
  ${CMAKE_CURRENT_LIST_DIR}/reference/*.cpp
  ${CMAKE_CURRENT_LIST_DIR}/model/*.cpp)
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64|ARM64)$")
  list(FILTER DILBENCH_CORE_SOURCES EXCLUDE REGEX "_avx(2|512)\\.cpp$")
else()
  list(FILTER DILBENCH_CORE_SOURCES EXCLUDE REGEX "_neon\\.cpp$")
endif()
foreach(src ${DILBENCH_CORE_SOURCES})
  if(src MATCHES "_avx512\\.cpp$")
    set_source_files_properties(${src} PROPERTIES COMPILE_OPTIONS
      "-mavx512f;-mavx512dq;-mavx512bw;-mavx512vl;-mavx2;-mfma;-mf16c")
  elseif(src MATCHES "_avx2\\.cpp$")
    set_source_files_properties(${src} PROPERTIES COMPILE_OPTIONS "-mavx2;-mfma;-mf16c")
  endif()
endforeach()
