# Runs one benchmark program as a user would first try it (issue 23):
# `--help` must exit 0 and list its options with their defaults, without
# running anything; a bogus option must exit 64 with one line naming it.
#   cmake -DBENCH=path/to/bench_x -P check_bench_cli.cmake
execute_process(COMMAND "${BENCH}" --help RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
                TIMEOUT 20)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${BENCH} --help exited ${rc} (expected 0): ${out}${err}")
endif()
if(NOT out MATCHES "Usage: " OR NOT out MATCHES "--help")
  message(FATAL_ERROR "${BENCH} --help printed no usage: ${out}${err}")
endif()
if(out MATCHES "\"bench\":")
  message(FATAL_ERROR "${BENCH} --help ran the benchmark: ${out}")
endif()
execute_process(COMMAND "${BENCH}" --no-such-option RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
                TIMEOUT 20)
if(NOT rc EQUAL 64)
  message(FATAL_ERROR "${BENCH} --no-such-option exited ${rc} (expected 64): ${out}${err}")
endif()
string(STRIP "${err}" err)
if(NOT err MATCHES "--no-such-option" OR err MATCHES "\n")
  message(FATAL_ERROR "${BENCH} --no-such-option: expected one line naming the option, got: ${err}")
endif()
if(out MATCHES "\"bench\":")
  message(FATAL_ERROR "${BENCH} --no-such-option ran the benchmark: ${out}")
endif()
