# Compiler settings shared by every emogene target.

find_program(EMOGENE_CCACHE ccache)
if(EMOGENE_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_C_COMPILER_LAUNCHER "${EMOGENE_CCACHE}")
  set(CMAKE_CXX_COMPILER_LAUNCHER "${EMOGENE_CCACHE}")
endif()

add_library(emogene_warnings INTERFACE)
target_compile_options(emogene_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow=local -Wnon-virtual-dtor -Wcast-align
  -Wno-unused-parameter)
if(EMOGENE_WERROR)
  target_compile_options(emogene_warnings INTERFACE -Werror)
endif()

# Portable x86-64 code by default: no -march=native. SIMD kernels dispatch at run time.
if(EMOGENE_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# emogene_add_module(NAME SOURCES... [DEPS targets...] [TORCH])
# One static library per module folder; public headers live in include/emogene/<module>/.
function(emogene_add_module name)
  cmake_parse_arguments(M "TORCH" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(emogene_${name} STATIC ${M_SOURCES})
  add_library(emogene::${name} ALIAS emogene_${name})
  target_include_directories(emogene_${name} PUBLIC ${PROJECT_SOURCE_DIR}/include
                                              PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(emogene_${name} PUBLIC ${M_DEPS} PRIVATE emogene_warnings ${M_PRIVATE_DEPS})
  if(M_TORCH)
    emogene_use_torch(emogene_${name})
  endif()
endfunction()
