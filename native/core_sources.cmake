# The native core's sources as the addon builds them (same per-file SIMD flags as the root
# CMakeLists.txt, never -march=native), for the two fake builds (this folder and addon/).
# Needs DILBENCH_NATIVE; sets FAKE_CORE_SOURCES.
file(GLOB FAKE_CORE_SOURCES CONFIGURE_DEPENDS
  ${DILBENCH_NATIVE}/core/*.cpp ${DILBENCH_NATIVE}/cpu/*.cpp
  ${DILBENCH_NATIVE}/reference/*.cpp ${DILBENCH_NATIVE}/model/*.cpp)
foreach(src ${FAKE_CORE_SOURCES})
  if(src MATCHES "_avx512\\.cpp$")
    set_source_files_properties(${src} PROPERTIES COMPILE_OPTIONS
      "-mavx512f;-mavx512dq;-mavx512bw;-mavx512vl;-mavx2;-mfma;-mf16c")
  elseif(src MATCHES "_avx2\\.cpp$")
    set_source_files_properties(${src} PROPERTIES COMPILE_OPTIONS "-mavx2;-mfma;-mf16c")
  endif()
endforeach()
