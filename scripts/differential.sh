#!/usr/bin/env bash
# Differential check: run one gloree checkout's built CLI over the built-in scenarios and seeds, or compare two
# such output directories byte for byte (after removing wall-clock timings).
#
#   scripts/differential.sh run DIR OUT       # DIR = a gloree checkout with dist/ built; writes OUT/*
#   scripts/differential.sh compare OUT1 OUT2 # prints each differing file; exit 1 if any differ
#   scripts/differential.sh DIR1 DIR2 [WORK]  # run both (into WORK/a and WORK/b) and compare
#
# Env: SCENARIOS (default "default iid rect brnn cubic scalar"), SEEDS (default "1 2"), SEQS (demo training
# sequences, default 1000 to keep the run short; the scenario code paths are the same at any size).
set -euo pipefail

SCENARIOS=${SCENARIOS:-"default iid rect brnn cubic scalar"}
SEEDS=${SEEDS:-"1 2"}
SEQS=${SEQS:-1000}

# Remove diagnostics keys holding wall-clock timings (timingsMs, timeMs, *Ms, *Seconds) in place and pretty-print
# so a diff shows the differing key. Text outputs: drop lines with timings ("fit time", "… s)").
normalize() {
  node -e '
    const fs = require("fs");
    for (const f of process.argv.slice(1)) {
      const txt = fs.readFileSync(f, "utf8");
      if (f.endsWith(".json")) {
        const strip = (o) => {
          if (Array.isArray(o)) return o.map(strip);
          if (o && typeof o === "object") {
            const r = {};
            for (const k of Object.keys(o)) if (!/(^timings|Ms$|^timeMs$|Seconds$|^elapsed)/i.test(k)) r[k] = strip(o[k]);
            return r;
          }
          return o;
        };
        fs.writeFileSync(f, JSON.stringify(strip(JSON.parse(txt)), null, 1) + "\n");
      } else if (f.endsWith(".txt")) {
        fs.writeFileSync(f, txt.split("\n").filter((l) => !/fit time|time \d|\d+(\.\d+)? ?(ms|s)\b\)/.test(l) && !/written to/.test(l)).join("\n"));
      }
    }' "$@"
}

run_one() {
  local dir=$1 out=$2
  local cli="$dir/dist/cli/main.js"
  [ -f "$cli" ] || { echo "differential: $cli not found (run npm run build in $dir)" >&2; exit 2; }
  mkdir -p "$out"
  for s in $SCENARIOS; do
    for n in $SEEDS; do
      node "$cli" demo --scenario "$s" --seed "$n" --sequences "$SEQS" --out "$out/demo-$s-$n.json" > "$out/demo-$s-$n.txt"
      node "$cli" demo --scenario "$s" --seed "$n" --sequences "$SEQS" --no-refine --out "$out/demo-$s-$n-norefine.json" > "$out/demo-$s-$n-norefine.txt"
    done
  done
  # simulate + fit on CSV: IO-RNN (z2), BRNN, cubic polynomial, scalar z3.
  node "$cli" simulate --scenario default --sequences 800 --seed 3 --out "$out/sim-default.csv" --truth "$out/truth-default.json" > /dev/null
  node "$cli" fit "$out/sim-default.csv" --hidden 4 --seed 0 --out "$out/fit-default.json" --quiet
  node "$cli" fit "$out/sim-default.csv" --hidden 4 --seed 0 --no-refine --out "$out/fit-default-norefine.json" --quiet
  node "$cli" simulate --scenario brnn --sequences 800 --seed 3 --out "$out/sim-brnn.csv" > /dev/null
  node "$cli" fit "$out/sim-brnn.csv" --kind brnn --hidden 2 --backward 2 --seed 0 --out "$out/fit-brnn.json" --quiet
  node "$cli" simulate --scenario cubic --sequences 800 --seed 3 --out "$out/sim-cubic.csv" > /dev/null
  node "$cli" fit "$out/sim-cubic.csv" --hidden 3 --activation 0,0.1,0.5,1 --seed 0 --out "$out/fit-cubic.json" --quiet
  node "$cli" simulate --scenario scalar --sequences 800 --seed 3 --out "$out/sim-scalar.csv" > /dev/null
  node "$cli" fit "$out/sim-scalar.csv" --hidden 3 --activation z3 --seed 0 --out "$out/fit-scalar.json" --quiet
  normalize "$out"/*.json "$out"/*.txt
}

compare() {
  local a=$1 b=$2 bad=0 n=0
  for f in "$a"/*; do
    local name; name=$(basename "$f")
    n=$((n + 1))
    if [ ! -f "$b/$name" ]; then echo "missing in $b: $name"; bad=1; continue; fi
    if ! cmp -s "$f" "$b/$name"; then echo "DIFFERS: $name"; bad=1; fi
  done
  for f in "$b"/*; do [ -f "$a/$(basename "$f")" ] || { echo "missing in $a: $(basename "$f")"; bad=1; }; done
  if [ $bad = 0 ]; then echo "differential: all $n files identical"; else echo "differential: differences found"; fi
  return $bad
}

case "${1:-}" in
  run) run_one "$2" "$3" ;;
  compare) compare "$2" "$3" ;;
  "" | -h | --help) sed -n 2,11p "$0"; exit 2 ;;
  *)
    work=${3:-$(mktemp -d)}
    rm -rf "$work/a" "$work/b"
    run_one "$1" "$work/a"
    run_one "$2" "$work/b"
    compare "$work/a" "$work/b"
    ;;
esac
