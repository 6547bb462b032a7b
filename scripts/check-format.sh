#!/usr/bin/env bash
# Checks that every C++ file of the tree is formatted as .clang-format says
# (Google style, 100 columns); prints the files that are not and exits 1.
# The BPF C in bpf/ and bench/bpf/ follows the kernel's style and is not
# checked. `scripts/check-format.sh --fix` rewrites the files in place.
set -euo pipefail
cd "$(dirname "$0")/.."
CLANG_FORMAT=${CLANG_FORMAT:-$(command -v clang-format-14 || command -v clang-format || true)}
[ -n "$CLANG_FORMAT" ] || { echo "check-format: clang-format not found (scripts/install-deps.sh installs it)" >&2; exit 2; }
# The tracked files where git is there; otherwise (a fresh machine has no
# git) the same source folders, without build trees.
if command -v git >/dev/null && git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files '*.cpp' '*.h' '*.h.in' | grep -Ev '^(bpf|bench/bpf)/')
else
  mapfile -t files < <(find userspace cli tests bench \( -path bench/bpf -o -name 'build*' \) -prune \
    -o -type f \( -name '*.cpp' -o -name '*.h' -o -name '*.h.in' \) -print | sort)
fi
[ ${#files[@]} -gt 0 ] || { echo "check-format: no C++ files found" >&2; exit 2; }
if [ "${1:-}" = "--fix" ]; then
  "$CLANG_FORMAT" --style=file -i "${files[@]}"
  exit 0
fi
bad=()
for f in "${files[@]}"; do
  "$CLANG_FORMAT" --style=file --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -gt 0 ]; then
  printf 'check-format: not formatted (run scripts/check-format.sh --fix): %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "check-format: ${#files[@]} files formatted"
