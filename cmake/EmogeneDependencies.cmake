# Every third-party dependency, from Debian 12 packages (tools/setup installs them).

find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(OpenMP REQUIRED)
find_package(Torch REQUIRED)
find_package(Eigen3 3.3 REQUIRED NO_MODULE)
find_package(CLI11 REQUIRED)
find_package(spdlog REQUIRED)
find_package(nlohmann_json 3.9 REQUIRED)
find_package(ZLIB REQUIRED)  # our PNG writer's deflate (zlib1g-dev)

pkg_check_modules(FFMPEG REQUIRED IMPORTED_TARGET
  libavformat libavcodec libavutil libswscale libswresample)
pkg_check_modules(SNDFILE REQUIRED IMPORTED_TARGET sndfile)
pkg_check_modules(STB REQUIRED IMPORTED_TARGET stb)
pkg_check_modules(HWY REQUIRED IMPORTED_TARGET libhwy)  # Highway: SIMD kernels with run-time dispatch
pkg_check_modules(ESPEAK REQUIRED IMPORTED_TARGET espeak-ng)
# dlib (face/): its pkg-config file lists libraries by full path, which CMake puts before the
# objects; link the library and the BLAS/LAPACK its headers call (DLIB_USE_BLAS) explicitly (by
# soname when the -dev symlinks are absent, as with --no-install-recommends).
find_library(DLIB_LIBRARY dlib REQUIRED)
find_library(DLIB_BLAS NAMES blas libblas.so.3 REQUIRED)
find_library(DLIB_LAPACK NAMES lapack liblapack.so.3 REQUIRED)
add_library(emogene_dlib INTERFACE)
target_link_libraries(emogene_dlib INTERFACE ${DLIB_LIBRARY} ${DLIB_LAPACK} ${DLIB_BLAS} Threads::Threads)

# LibTorch's own target drags -D_GLIBCXX_USE_CXX11_ABI and its include dirs along.
# Only the libraries that need it link it (through emogene_use_torch), so most of the
# tree compiles without LibTorch's headers. They share one precompiled header.
set(EMOGENE_TORCH_PCH "${PROJECT_SOURCE_DIR}/src/core/torch_pch.h")
add_library(emogene_torch_pch STATIC "${PROJECT_SOURCE_DIR}/src/core/torch_pch.cpp")
# OpenMP: ATen's at::parallel_for is a header template that runs `#pragma omp parallel` in the
# caller's own object file, so every file that calls it must be compiled with -fopenmp (without
# it the loop silently runs on one thread).
target_link_libraries(emogene_torch_pch PUBLIC torch OpenMP::OpenMP_CXX PRIVATE emogene_warnings)
target_precompile_headers(emogene_torch_pch PRIVATE "${EMOGENE_TORCH_PCH}")

function(emogene_use_torch target)
  target_link_libraries(${target} PUBLIC torch OpenMP::OpenMP_CXX)
  target_precompile_headers(${target} REUSE_FROM emogene_torch_pch)
endfunction()
