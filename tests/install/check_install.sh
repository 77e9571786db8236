#!/usr/bin/env bash
# Usage: tests/install/check_install.sh BUILD_DIR
#
# Installs the varsync build in BUILD_DIR into a temporary prefix, then builds
# and runs tests/install/consumer against it via find_package(varsync).
# Registered as ctest `install.consumer`. Set VARSYNC_KEEP_INSTALL=1 to keep
# the temporary directory for inspection.
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
build_dir=$(cd "$1" && pwd)
source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/consumer

work=$(mktemp -d "${TMPDIR:-/tmp}/varsync-install.XXXXXX")
if [[ "${VARSYNC_KEEP_INSTALL:-0}" == 1 ]]; then
  echo "keeping ${work}"
else
  trap 'rm -rf "${work}"' EXIT
fi
prefix=${work}/prefix

echo "== installing ${build_dir} into ${prefix}"
cmake --install "${build_dir}" --prefix "${prefix}"

# Build the consumer with the same compiler as the library.
cxx=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "${build_dir}/CMakeCache.txt")
generator=()
if command -v ninja >/dev/null 2>&1; then
  generator=(-G Ninja)
fi

echo "== configuring consumer"
cmake -S "${source_dir}" -B "${work}/build" "${generator[@]}" \
  -DCMAKE_BUILD_TYPE=Release \
  ${cxx:+-DCMAKE_CXX_COMPILER="${cxx}"} \
  -DCMAKE_PREFIX_PATH="${prefix}"
echo "== building consumer"
cmake --build "${work}/build"

# The consumer's build RPATH already points into the prefix; LD_LIBRARY_PATH
# covers lib/ and lib64/ layouts as a fallback.
export LD_LIBRARY_PATH="${prefix}/lib:${prefix}/lib64${LD_LIBRARY_PATH:+:${LD_LIBRARY_PATH}}"
echo "== running consumer"
"${work}/build/varsync_consumer"
