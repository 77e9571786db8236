# FindCAF.cmake - locate the C++ Actor Framework 0.17 as packaged by Debian.
#
# Debian's libcaf-dev ships neither a CMake package nor a pkg-config file, so
# we look for the headers and the three shared libraries by hand and wrap them
# in imported targets:
#
#   CAF::core     libcaf_core             (+ Threads::Threads)
#   CAF::io       libcaf_io               (+ CAF::core)
#   CAF::openssl  libcaf_openssl          (+ CAF::io, OpenSSL::SSL, OpenSSL::Crypto)
#
# Hints: set CAF_ROOT (CMake variable or environment) to a custom prefix.
# Result variables: CAF_FOUND, CAF_INCLUDE_DIR, CAF_CORE_LIBRARY,
# CAF_IO_LIBRARY, CAF_OPENSSL_LIBRARY.

include(FindPackageHandleStandardArgs)

find_path(CAF_INCLUDE_DIR NAMES caf/all.hpp
          DOC "Directory containing caf/all.hpp")
find_library(CAF_CORE_LIBRARY NAMES caf_core DOC "libcaf_core")
find_library(CAF_IO_LIBRARY NAMES caf_io DOC "libcaf_io")
find_library(CAF_OPENSSL_LIBRARY NAMES caf_openssl DOC "libcaf_openssl")
mark_as_advanced(CAF_INCLUDE_DIR CAF_CORE_LIBRARY CAF_IO_LIBRARY
                 CAF_OPENSSL_LIBRARY)

set(_caf_missing "")
foreach(_var IN ITEMS CAF_INCLUDE_DIR CAF_CORE_LIBRARY CAF_IO_LIBRARY
                      CAF_OPENSSL_LIBRARY)
  if(NOT ${_var})
    list(APPEND _caf_missing ${_var})
  endif()
endforeach()
if(_caf_missing AND CAF_FIND_REQUIRED)
  message(FATAL_ERROR
    "CAF (C++ Actor Framework 0.17) not found; missing: ${_caf_missing}.\n"
    "On Debian/Ubuntu install it with:\n"
    "    apt-get install libcaf-dev\n"
    "(or run scripts/setup), or point CAF_ROOT at a custom installation.")
endif()

find_package_handle_standard_args(CAF
  REQUIRED_VARS CAF_CORE_LIBRARY CAF_IO_LIBRARY CAF_OPENSSL_LIBRARY
                CAF_INCLUDE_DIR)

if(CAF_FOUND)
  find_package(Threads REQUIRED)
  find_package(OpenSSL REQUIRED)

  if(NOT TARGET CAF::core)
    add_library(CAF::core UNKNOWN IMPORTED)
    set_target_properties(CAF::core PROPERTIES
      IMPORTED_LOCATION "${CAF_CORE_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}"
      INTERFACE_LINK_LIBRARIES Threads::Threads)
  endif()
  if(NOT TARGET CAF::io)
    add_library(CAF::io UNKNOWN IMPORTED)
    set_target_properties(CAF::io PROPERTIES
      IMPORTED_LOCATION "${CAF_IO_LIBRARY}"
      INTERFACE_LINK_LIBRARIES "CAF::core;Threads::Threads")
  endif()
  if(NOT TARGET CAF::openssl)
    add_library(CAF::openssl UNKNOWN IMPORTED)
    set_target_properties(CAF::openssl PROPERTIES
      IMPORTED_LOCATION "${CAF_OPENSSL_LIBRARY}"
      INTERFACE_LINK_LIBRARIES
        "CAF::io;OpenSSL::SSL;OpenSSL::Crypto;Threads::Threads")
  endif()
endif()
