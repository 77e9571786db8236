# Fails if a public header under HEADER_DIR includes CAF or a private header
# from actors/ or runtime/ (STYLE.md rule 1). Run with:
#   cmake -DHEADER_DIR=<src>/include/varsync -P cmake/check_public_headers.cmake
if(NOT HEADER_DIR)
  message(FATAL_ERROR "check_public_headers.cmake: HEADER_DIR not set")
endif()
file(GLOB_RECURSE headers "${HEADER_DIR}/*.hpp")
set(violations "")
foreach(header IN LISTS headers)
  file(STRINGS "${header}" includes
       REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"](caf|actors|runtime)/")
  foreach(line IN LISTS includes)
    string(STRIP "${line}" line)
    list(APPEND violations "${header}: ${line}")
  endforeach()
endforeach()
if(violations)
  list(JOIN violations "\n  " text)
  message(FATAL_ERROR "Public headers must not include CAF or private "
                      "headers:\n  ${text}")
endif()
list(LENGTH headers count)
message(STATUS "${count} public header(s) checked: no private includes")
