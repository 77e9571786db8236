# Keeps the floors honest: every #include points down or sideways, never up.
#
#   include/varsync     public API: includes only <varsync/...> / "varsync/..."
#   runtime/core        value types (tensor, math, errors, names, rules):
#                       varsync/ and runtime/core/ only, and no CAF
#   runtime/transport   the bulk plane: + runtime/transport/, no CAF
#   actors              actors and protocols: + actors/
#   runtime (the rest)  node runtime, host API, CLI: anything
#
# Usage: cmake -DROOT=<source tree> -P cmake/check_floors.cmake
# Prints every violation as "file: includes X (floor F may include only
# ...)" and fails when there is one.

if(NOT ROOT)
  message(FATAL_ERROR "check_floors: pass -DROOT=<source tree>")
endif()

set(floor_names include_varsync runtime_core runtime_transport actors)
set(include_varsync_dir "include/varsync")
set(include_varsync_allowed "varsync/")
set(include_varsync_no_caf ON)
set(runtime_core_dir "runtime/core")
set(runtime_core_allowed "varsync/;runtime/core/")
set(runtime_core_no_caf ON)
set(runtime_transport_dir "runtime/transport")
set(runtime_transport_allowed "varsync/;runtime/core/;runtime/transport/")
set(runtime_transport_no_caf ON)
set(actors_dir "actors")
set(actors_allowed "varsync/;runtime/core/;runtime/transport/;actors/")
set(actors_no_caf OFF)

set(violations 0)
foreach(floor IN LISTS floor_names)
  set(dir "${${floor}_dir}")
  file(GLOB_RECURSE files "${ROOT}/${dir}/*.hpp" "${ROOT}/${dir}/*.cpp")
  foreach(file IN LISTS files)
    file(STRINGS "${file}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]")
    file(RELATIVE_PATH relative "${ROOT}" "${file}")
    foreach(line IN LISTS lines)
      string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*([<\"])([^>\"]*)[>\"].*$"
                           "\\1;\\2" parsed "${line}")
      list(GET parsed 0 bracket)
      list(GET parsed 1 target)
      set(ok OFF)
      if(bracket STREQUAL "\"")
        foreach(prefix IN LISTS ${floor}_allowed)
          string(FIND "${target}" "${prefix}" at)
          if(at EQUAL 0)
            set(ok ON)
          endif()
        endforeach()
      else()
        # <...>: system and third-party headers; CAF only above transport,
        # and the public API names varsync headers like any user would.
        set(ok ON)
        string(FIND "${target}" "caf/" at)
        if(at EQUAL 0 AND ${floor}_no_caf)
          set(ok OFF)
        endif()
      endif()
      if(NOT ok)
        set(caf_rule "CAF allowed")
        if(${floor}_no_caf)
          set(caf_rule "no CAF")
        endif()
        set(closing "\"")
        if(bracket STREQUAL "<")
          set(closing ">")
        endif()
        message("${relative}: includes ${bracket}${target}${closing} (floor ${dir} may "
                "include only ${${floor}_allowed}; ${caf_rule})")
        math(EXPR violations "${violations} + 1")
      endif()
    endforeach()
  endforeach()
endforeach()

if(violations GREATER 0)
  message(FATAL_ERROR "check_floors: ${violations} include(s) point up a floor")
endif()
message(STATUS "check_floors: every include points down")
