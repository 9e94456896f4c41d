#!/usr/bin/env bash
# Installs trajscope WITHOUT any extras into a clean venv and runs every subcommand once
# on bundled data. Fails on a traceback or an unexpected exit code: what a user who ran
# `pip install trajscope` meets in the first hour (a missing dependency, an import of an
# extra at the top of a module). Usage: scripts/smoke-plain-install.sh [VENV]
set -uo pipefail
cd "$(dirname "$0")/.."
venv="${1:-$(mktemp -d /tmp/trajscope-plain-XXXXXX)}"
work="$(mktemp -d /tmp/trajscope-smoke-XXXXXX)"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip 2>/dev/null
"$venv/bin/python" -m pip install --quiet "${TORCH:-torch}" || exit 1
# from an sdist, as from PyPI: the wheel built from it must hold what one built from the checkout
# holds (the checkout's trajscope/ links are not in an sdist)
"$venv/bin/python" -m pip install --quiet hatchling build || exit 1
"$venv/bin/python" -m build --sdist --no-isolation --outdir "$work/dist" . >/dev/null || exit 1
"$venv/bin/python" -m pip install --quiet --no-build-isolation "$work"/dist/trajscope-*.tar.gz || exit 1
ts="$venv/bin/trajscope"
task=demo_data/tasks/semver-prerelease
failed=0

# check EXPECTED_CODES CMD...: run it, fail on a traceback or an exit code not in the list
check() {
  local codes="$1"; shift
  local out rc
  out="$("$@" 2>&1)"; rc=$?
  if grep -q "Traceback" <<<"$out" || [[ " $codes " != *" $rc "* ]]; then
    echo "smoke: FAILED (exit $rc): $*"; tail -20 <<<"$out" | sed 's/^/  /'; failed=1
  else
    echo "smoke: ok (exit $rc): ${*#$venv/bin/}"
  fi
}

check "0" "$ts" --help
check "0" bash -c "cd / && '$ts' tasks"   # the bundled tasks are in the installed package
# one import package when installed: trajscope (with py.typed), never a top-level engine, tui,
# themes or demo_data; run from / so the checkout's own folders are not found first
check "0" bash -c "cd / && '$venv/bin/python' -c \"
import importlib.util, importlib.metadata as md, trajscope.engine.session, trajscope.tui.app
assert not [n for n in ('engine', 'tui', 'themes', 'demo_data') if importlib.util.find_spec(n)]
tops = {f.parts[0] for f in md.files('trajscope') if f.parts[0] != '..' and not f.parts[0].endswith('.dist-info')}
assert tops == {'trajscope'}, tops
assert any(str(f) == 'trajscope/py.typed' for f in md.files('trajscope'))
\""
check "0" "$ts" stats demo_data/runs/calc-divide.jsonl
check "0" "$ts" stats --json tests/fixtures/real/mini-swe-agent/github_issue.traj.json
check "0" "$ts" convert tests/fixtures/real/swe-agent/function_calling_simple.traj -o "$work/swe.jsonl"
check "0" "$ts" convert tests/fixtures/real/dars/none.prev.root -o "$work/dars.jsonl"
check "0" "$ts" verify "$task" --gold --sandbox local
check "0" env -C "$work" "$ts" verify duration-ms-unit --gold --sandbox local  # a bundled name: the installed copy
check "0 1" "$ts" run "$task" --headless --sandbox local --out "$work/run.jsonl"
check "0 1" "$ts" search "$task" --headless --sandbox local --max-nodes 12 --out "$work/search.jsonl"
check "0" "$ts" analyze "$work/search.jsonl" "$work/run.jsonl" tests/fixtures/real --html "$work/report.html"
for format in patch predictions; do
  check "0" "$ts" export "$work/search.jsonl" --format "$format" -o "$work/export.$format"
done
# the recorded run holds a resolved path and a promoted/pruned pair; a search this small may not
for format in sft dpo; do
  check "0" "$ts" export demo_data/runs/calc-divide.jsonl --format "$format" -o "$work/export.$format"
done
# no bundled run carries a teacher action: an export with no record says so and exits 1, writing nothing
check "1" "$ts" export demo_data/runs/calc-divide.jsonl --format dagger -o "$work/export.dagger"
[[ ! -e "$work/export.dagger" ]] || { echo "smoke: FAILED: an empty dagger export wrote a file"; failed=1; }
check "0" "$ts" prm score "$work/run.jsonl" --out "$work/scored.jsonl"
check "0" "$ts" prm score "$work/run.jsonl" --prm heuristic --out "$work/scored-h.jsonl"
check "0" "$ts" stats tests/fixtures/real
check "0" "$ts" convert tests/fixtures/real/openhands/multi_swe_bench.output.jsonl -o "$work/openhands"
"$venv/bin/python" -c "import json, sys; t = json.load(open('$task/task.json')); print(json.dumps({'instance_id': t['instance_id'], 'model_name_or_path': 'smoke', 'model_patch': open('$task/gold.patch').read()}))" > "$work/preds.jsonl"
check "0" "$ts" evaluate "$work/preds.jsonl" --dataset "$task" --sandbox local --out "$work/evaluation"
check "0" "$ts" batch "$task" demo_data/tasks/slugify-accents --parallel 2 --headless --sandbox local --max-nodes 8 --out "$work/batch"
check "2" "$ts" batch "$task" --executor ray --headless --out "$work/batch-ray"
check "2" "$ts" serve open demo_data/runs/calc-divide.jsonl   # textual-serve is the [serve] extra: one sentence
check "2" "$ts" stats /dev/zero
rm -rf "$work"
[ -z "${1:-}" ] && rm -rf "$venv"
exit $failed
