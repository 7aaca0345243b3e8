# relicense_add_fuzzer(name SOURCES src... CORPUS dir [INCLUDE_DIRS dir...] [LINK_FLAGS flag...])
#
# SOURCES: the fuzz target (defining LLVMFuzzerTestOneInput) and the library sources it needs;
# they are compiled directly, not linked from the module targets, because the libFuzzer build uses
# another compiler (clang++) with its own instrumentation.
#
# Always: an executable <name>_replay (project compiler and flags, so also the sanitizer build)
# running every file of CORPUS through the target, registered as the ctest <name>_replay.
# When clang++ is found: a custom target <name> (not built by default) making a real
# libFuzzer + ASan + UBSan binary, and the ctests <name>_build (builds it; a fixture) and
# <name>_run (fuzzes for 20 s on a scratch copy of CORPUS; fails on any crash or property abort).
find_program(RELICENSE_CLANGXX NAMES clang++ clang++-16 clang++-15 clang++-14)

function(relicense_add_fuzzer name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "CORPUS" "SOURCES;INCLUDE_DIRS;LINK_FLAGS")
  if(NOT arg_SOURCES OR NOT arg_CORPUS)
    message(FATAL_ERROR "relicense_add_fuzzer(${name}): SOURCES and CORPUS are required")
  endif()

  add_executable(${name}_replay ${arg_SOURCES} ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/replay_main.cpp)
  target_include_directories(${name}_replay PRIVATE ${arg_INCLUDE_DIRS})
  target_link_options(${name}_replay PRIVATE ${arg_LINK_FLAGS})
  target_link_libraries(${name}_replay PRIVATE relicense::options)
  add_test(NAME ${name}_replay COMMAND ${name}_replay ${arg_CORPUS})
  set_tests_properties(${name}_replay PROPERTIES TIMEOUT 120)

  if(NOT RELICENSE_CLANGXX)
    return()
  endif()
  # Not ${CMAKE_CURRENT_BINARY_DIR}/${name}: Ninja already uses that path for the target itself.
  set(out ${CMAKE_CURRENT_BINARY_DIR}/libfuzzer/${name})
  set(includes "")
  set(headers "")
  foreach(dir IN LISTS arg_INCLUDE_DIRS)
    list(APPEND includes -I${dir})
    file(GLOB_RECURSE dir_headers CONFIGURE_DEPENDS ${dir}/*.hpp)
    list(APPEND headers ${dir_headers})
  endforeach()
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/libfuzzer
    COMMAND ${RELICENSE_CLANGXX} -std=c++20 -O1 -g -fno-omit-frame-pointer
            -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
            ${includes} ${arg_SOURCES} ${arg_LINK_FLAGS} -o ${out}
    DEPENDS ${arg_SOURCES} ${headers}
    COMMENT "Building libFuzzer binary ${name} with ${RELICENSE_CLANGXX}"
    VERBATIM)
  add_custom_target(${name} DEPENDS ${out})

  add_test(NAME ${name}_build COMMAND ${CMAKE_COMMAND} --build ${CMAKE_BINARY_DIR} --target ${name})
  # One fuzzer build at a time: two concurrent builds of one tree would fight over its lock.
  set_tests_properties(${name}_build PROPERTIES FIXTURES_SETUP ${name}_binary
                       RESOURCE_LOCK relicense_fuzzer_build TIMEOUT 900)
  add_test(NAME ${name}_run
           COMMAND ${CMAKE_COMMAND} -DFUZZER=${out} -DCORPUS=${arg_CORPUS}
                   -DWORK=${CMAKE_CURRENT_BINARY_DIR}/${name}_work -DSECONDS=20
                   -P ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/run_fuzzer.cmake)
  set_tests_properties(${name}_run PROPERTIES FIXTURES_REQUIRED ${name}_binary TIMEOUT 300)
endfunction()
