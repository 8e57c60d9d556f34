#!/usr/bin/env bash
# Build check: the native core compiles with clang as well as g++ (-fsyntax-only, -Wall -Wextra
# -Werror, C++17). x86-64: every core source with its level's flags (core_sources.cmake's);
# aarch64 (clang --target=aarch64-linux-gnu, headers from Debian's g++-aarch64-linux-gnu, when
# installed): every core source but the x86 level files, i.e. the generic path and the NEON files.
# Needs clang (apt-get install clang).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang++ >/dev/null || { echo "check-clang: clang++ not found (apt-get install clang)" >&2; exit 3; }
# GCC-only warning groups named in pragmas are not errors here.
common=(-std=c++17 -fsyntax-only -Wall -Wextra -Werror -Wno-unknown-warning-option -Inative)
sources=$(ls native/core/*.cpp native/cpu/*.cpp native/reference/*.cpp native/model/*.cpp)
n=0
for src in $sources; do
  case "$src" in
    *_neon.cpp) continue ;;
    *_avx512.cpp) flags=(-mavx512f -mavx512dq -mavx512bw -mavx512vl -mavx2 -mfma -mf16c) ;;
    *_avx2.cpp) flags=(-mavx2 -mfma -mf16c) ;;
    *) flags=() ;;
  esac
  clang++ --target=x86_64-linux-gnu "${common[@]}" "${flags[@]}" "$src"
  n=$((n + 1))
done
echo "check-clang: x86-64: $n core sources compile with $(clang++ --version | head -1)"
if [ -d /usr/aarch64-linux-gnu/include ]; then
  n=0
  for src in $sources; do
    case "$src" in *_avx2.cpp | *_avx512.cpp) continue ;; esac
    clang++ --target=aarch64-linux-gnu "${common[@]}" "$src"
    n=$((n + 1))
  done
  echo "check-clang: aarch64: $n core sources (generic and NEON) compile"
else
  echo "check-clang: aarch64 skipped: no /usr/aarch64-linux-gnu headers (apt-get install g++-aarch64-linux-gnu)"
fi
