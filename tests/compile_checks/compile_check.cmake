# Compiles one snippet (syntax and templates only, no object) and checks the
# outcome: EXPECT is "compiles", or a regular expression the compiler's
# diagnostics must match when the compile fails — a snippet that should not
# compile must fail for the reason the API gives, not for any reason.
#   cmake -DCXX=... -DINCLUDES="a|b" -DSYSTEM_INCLUDES="c" -DSOURCE=... -DEXPECT=... -P compile_check.cmake
set(flags -std=c++17 -fsyntax-only)
string(REPLACE "|" ";" includes "${INCLUDES}")
foreach(dir IN LISTS includes)
  list(APPEND flags "-I${dir}")
endforeach()
string(REPLACE "|" ";" system_includes "${SYSTEM_INCLUDES}")
foreach(dir IN LISTS system_includes)
  list(APPEND flags "-isystem" "${dir}")
endforeach()
# LC_ALL=C: plain quotes in the diagnostics, whatever the locale.
execute_process(COMMAND ${CMAKE_COMMAND} -E env LC_ALL=C ${CXX} ${flags} ${SOURCE}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(EXPECT STREQUAL "compiles")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${SOURCE} should compile but does not:\n${out}")
  endif()
elseif(rc EQUAL 0)
  message(FATAL_ERROR "${SOURCE} compiles, but it should fail with: ${EXPECT}")
elseif(NOT out MATCHES "${EXPECT}")
  message(FATAL_ERROR "${SOURCE} fails, but not with '${EXPECT}':\n${out}")
else()
  message(STATUS "${SOURCE} fails as it should (${EXPECT})")
endif()
