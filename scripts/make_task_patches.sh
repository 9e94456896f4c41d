#!/usr/bin/env bash
# Writes gold.patch and the test patch of a demo task from a fixed copy of its repo.
#   scripts/make_task_patches.sh demo_data/tasks/NAME FIXED_DIR HIDDEN_TEST_FILE...
# FIXED_DIR holds the repo after the reference fix; each HIDDEN_TEST_FILE is a path
# relative to the repo whose content in FIXED_DIR becomes the test patch. The tests
# that pass after the fix become FAIL_TO_PASS when they fail before it, else PASS_TO_PASS.
set -euo pipefail
task=$(realpath "$1"); fixed=$(realpath "$2"); shift 2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cp -r "$task/repo" "$work/r"; cd "$work/r"
git init -q && git add -A && git -c user.name=t -c user.email=t@t commit -qm base
for f in "$@"; do mkdir -p "$(dirname "$f")"; cp "$fixed/$f" "$f"; done
git add -A; git diff --cached --no-renames > "$work/test.patch"
python3 -m pytest -rA -p no:cacheprovider tests > "$work/base.log" 2>&1 || true
git reset -q --hard; git clean -qfdx
cp -r "$fixed/." .; for f in "$@"; do git checkout -q -- "$f" 2>/dev/null || rm -f "$f"; done
git add -A; git diff --cached --no-renames > "$task/gold.patch"
(cd "$fixed" && python3 -m pytest -rA -p no:cacheprovider tests) > "$work/log" 2>&1 || true
python3 - "$task/task.json" "$work/test.patch" "$work/log" "$work/base.log" <<'PY'
import json, re, sys
spec = json.load(open(sys.argv[1]))
spec["test_patch"] = open(sys.argv[2]).read()
def passed(log):
    return [m.group(1) for m in re.finditer(r"^PASSED (.+?)(?: - .*)?$", open(log).read(), re.M)]
before = set(passed(sys.argv[4]))
after = passed(sys.argv[3])
spec["FAIL_TO_PASS"] = [t for t in after if t not in before]
spec["PASS_TO_PASS"] = [t for t in after if t in before]
json.dump(spec, open(sys.argv[1], "w"), indent=2)
open(sys.argv[1], "a").write("\n")
PY
echo "$(basename "$task"): gold $(grep -c '^[-+][^-+]' "$task/gold.patch") changed lines"
