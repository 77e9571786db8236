# Usage: cmake -DPROGRAM=path -DNAME=name -DVERSION=x.y.z -P check_version.cmake
#
# Passes when `PROGRAM --version` exits 0 and prints exactly "NAME VERSION"
# and a newline on stdout (see varsync_program in CMakeLists.txt).
execute_process(COMMAND "${PROGRAM}" --version
                RESULT_VARIABLE status
                OUTPUT_VARIABLE output
                ERROR_VARIABLE errors
                TIMEOUT 20)
if(NOT status EQUAL 0)
  message(FATAL_ERROR
    "${PROGRAM} --version exited with ${status}; stdout: '${output}' "
    "stderr: '${errors}'")
endif()
if(NOT output STREQUAL "${NAME} ${VERSION}\n")
  message(FATAL_ERROR
    "${PROGRAM} --version printed '${output}', expected '${NAME} ${VERSION}'")
endif()
message(STATUS "${output}")
