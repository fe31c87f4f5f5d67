# One helper per kind of target, so every folder registers code the same way.
# -Wrestrict: GCC 12 reports false positives inside std::string at -O3 (GCC bug 105329).
set(HERD_WARNINGS -Wall -Wextra -Werror -Wno-missing-field-initializers $<$<CXX_COMPILER_ID:GNU>:-Wno-restrict>)

# herd_library(NAME SOURCES a.cc ... DEPS lib ...)
function(herd_library name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${A_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_compile_options(${name} PRIVATE ${HERD_WARNINGS})
  target_link_libraries(${name} PUBLIC ${A_DEPS})
endfunction()

# herd_test(NAME SOURCES a_test.cc ... DEPS lib ...): a GoogleTest binary registered with ctest.
function(herd_test name)
  if(HERD_FUZZ)
    return()  # the fuzz configuration builds and runs only the fuzz targets
  endif()
  cmake_parse_arguments(A "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_compile_options(${name} PRIVATE ${HERD_WARNINGS})
  target_link_libraries(${name} PRIVATE ${A_DEPS} GTest::gmock GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE HERD_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  include(GoogleTest)
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 120)
  endif()
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT ${A_TIMEOUT} LABELS "${A_LABELS}")
endfunction()

# herd_fuzzer(NAME SOURCES f.cc DEPS lib ... CORPUS dir): libFuzzer target plus a ctest
# that replays the corpus (so CI proves the targets build and run).
function(herd_fuzzer name)
  cmake_parse_arguments(A "" "CORPUS" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  target_link_libraries(${name} PRIVATE ${A_DEPS})
  # libFuzzer writes new inputs into the first directory: give it a scratch one,
  # so that replaying the seed corpus never changes the source tree.
  set(scratch ${CMAKE_BINARY_DIR}/fuzz-scratch/${name})
  file(MAKE_DIRECTORY ${scratch})
  add_test(NAME ${name}_corpus COMMAND ${name} -runs=2000 ${scratch} ${A_CORPUS})
endfunction()
