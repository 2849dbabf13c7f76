# Run at every build (cmake -P, from src/CMakeLists.txt): writes OUT, a header defining
# T81_GIT_REVISION as the source's current short revision ("unknown" outside a git checkout), and
# touches it only when the revision changed — so benchmark files name the commit that was built,
# not the one configured, and an unchanged revision rebuilds nothing.
execute_process(COMMAND git rev-parse --short=12 HEAD WORKING_DIRECTORY "${SRC}"
                OUTPUT_VARIABLE rev OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT rev)
  set(rev "unknown")
endif()
set(content "#define T81_GIT_REVISION \"${rev}\"\n")
set(old "")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL content)
  file(WRITE "${OUT}" "${content}")
endif()
