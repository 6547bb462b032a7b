#!/usr/bin/env bash
# bench/xdp_ab.sh [--base REV] [--rounds N] [--out DIR] [-- XDP_COST_ARGS...] -
# per-packet A/B of lb4's XDP program: the base revision (default: the
# previous commit) is built in a git worktree, then its bench/xdp_cost and
# this tree's run alternately, one process each per round, on the same CPU.
# For every case both report, lb4's own work is the case minus that
# process's xdp_drop floor of the same round; the figure is the median over
# rounds of new/base of that work (and of the whole case). Cases only one
# side has are listed without a ratio.
#
# Needs root (BPF_PROG_TEST_RUN). Prints one `xdp_ab.CASE` line per case,
# writes DIR/xdp_ab.json (default build/bench-results).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$src/build}
base=HEAD~1
rounds=5
out=""
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --base) base=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --out) out=$2; shift ;;
    --) shift; extra=("$@"); break ;;
    *) echo "usage: bench/xdp_ab.sh [--base REV] [--rounds N] [--out DIR] [-- XDP_COST_ARGS...]" >&2
       exit 2 ;;
  esac
  shift
done
[ "$(id -u)" -eq 0 ] || { echo "bench/xdp_ab.sh: needs root" >&2; exit 1; }
case "$rounds" in ''|*[!0-9]*) echo "bench/xdp_ab.sh: --rounds wants a number" >&2; exit 2 ;; esac
[ "$rounds" -ge 1 ] && [ "$rounds" -le 50 ] || { echo "bench/xdp_ab.sh: --rounds 1..50" >&2; exit 2; }
rev=$(git -C "$src" rev-parse --verify --quiet "$base^{commit}") ||
  { echo "bench/xdp_ab.sh: $base is not a commit" >&2; exit 2; }
out=${out:-$build/bench-results}
mkdir -p "$out"

# The base tree: a detached worktree per revision, kept for the next run
# (its build directory makes a rebuild incremental).
wt=$build/ab/$rev
if [ ! -e "$wt/src/.git" ]; then
  rm -rf "$wt"
  mkdir -p "$wt"
  git -C "$src" worktree add --detach "$wt/src" "$rev" >/dev/null
fi
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
for tree in "$wt/src:$wt/build" "$src:$build"; do
  s=${tree%%:*}
  b=${tree#*:}
  [ -f "$b/CMakeCache.txt" ] || cmake -S "$s" -B "$b" "${launcher[@]}" >/dev/null
  cmake --build "$b" -j"$(nproc)" --target lb4_xdp_cost >/dev/null
done
old_bin=$wt/build/bench/lb4_xdp_cost
new_bin=$build/bench/lb4_xdp_cost

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "# xdp_ab: base $(git -C "$src" log -1 --format='%h %s' "$rev" | cut -c1-72)"
echo "# xdp_ab: new  $(git -C "$src" describe --always --dirty)"
for r in $(seq 1 "$rounds"); do
  # Alternate which side goes first, so drift over time hits both alike.
  if [ $((r % 2)) -eq 1 ]; then order="old new"; else order="new old"; fi
  for side in $order; do
    bin=$old_bin
    [ "$side" = new ] && bin=$new_bin
    timeout 600 "$bin" --rounds 1 --json "$tmp/$side.$r.json" "${extra[@]}" >"$tmp/$side.$r.txt" 2>&1 ||
      { echo "bench/xdp_ab.sh: $side round $r failed:" >&2; tail -5 "$tmp/$side.$r.txt" >&2; exit 1; }
  done
done

python3 - "$tmp" "$rounds" "$out/xdp_ab.json" <<'EOF'
import json, statistics, sys
tmp, rounds, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def load(side, r):
    with open(f"{tmp}/{side}.{r}.json") as f:
        return {c["case"]: c for c in json.load(f)}
runs = {s: [load(s, r) for r in range(1, rounds + 1)] for s in ("old", "new")}
cases = []
for run in runs["new"] + runs["old"]:
    for name in run:
        if name not in cases:
            cases.append(name)
result = []
for name in cases:
    own, whole, old_ns, new_ns = [], [], [], []
    for o, n in zip(runs["old"], runs["new"]):
        a, b = o.get(name, {}), n.get(name, {})
        if "median_ns" not in a or "median_ns" not in b:
            continue
        old_ns.append(a["median_ns"])
        new_ns.append(b["median_ns"])
        whole.append(b["median_ns"] / a["median_ns"])
        fo = o.get("floor_xdp_drop", {}).get("median_ns")
        fn = n.get("floor_xdp_drop", {}).get("median_ns")
        # Only lb4's own cases carry the floor; floors and parts do not.
        lb4_case = name.startswith("lb4_") and "minus" not in b.get("method", "")
        if lb4_case and fo is not None and fn is not None and a["median_ns"] - fo > 0:
            own.append((b["median_ns"] - fn) / (a["median_ns"] - fo))
    row = {"case": name, "rounds": len(whole)}
    if not whole:
        row["only"] = "new" if any(name in n for n in runs["new"]) else "base"
        print(f"xdp_ab.{name} only_in={row['only']}")
    else:
        row.update(base_ns=statistics.median(old_ns), new_ns=statistics.median(new_ns),
                   ratio=statistics.median(whole),
                   own_ratio=statistics.median(own) if own else None)
        own_s = f"{row['own_ratio']:.2f}" if own else "n/a"
        print(f"xdp_ab.{name} base_ns={row['base_ns']:.1f} new_ns={row['new_ns']:.1f} "
              f"ratio={row['ratio']:.2f} own_work_ratio={own_s} rounds={len(whole)}")
    result.append(row)
with open(path, "w") as f:
    json.dump(result, f, indent=2)
EOF
