# Runs a libFuzzer binary for a bounded time on a scratch copy of its seed corpus (the fuzzer adds
# inputs to the corpus it is given; the checked-in seeds stay untouched).
# cmake -DFUZZER=bin -DCORPUS=dir -DWORK=dir [-DSECONDS=20] -P run_fuzzer.cmake
if(NOT SECONDS)
  set(SECONDS 20)
endif()
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/corpus)
file(GLOB seeds ${CORPUS}/*)
file(COPY ${seeds} DESTINATION ${WORK}/corpus)
execute_process(
  COMMAND ${FUZZER} -max_total_time=${SECONDS} -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
          -artifact_prefix=${WORK}/ ${WORK}/corpus
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${FUZZER} failed (exit ${rc}); the crashing input is in ${WORK}/")
endif()
