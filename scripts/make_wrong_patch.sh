#!/usr/bin/env bash
# Writes wrong.patch of a demo task: a plausible fix that a visible test catches.
#   scripts/make_wrong_patch.sh demo_data/tasks/NAME WRONG_DIR
set -euo pipefail
task=$(realpath "$1"); wrong=$(realpath "$2")
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cp -r "$task/repo" "$work/a"; cp -r "$wrong" "$work/b"
find "$work" -name __pycache__ -prune -exec rm -rf {} + ; rm -rf "$work"/*/.pytest_cache
cd "$work" && git diff --no-index --no-renames --src-prefix= --dst-prefix= a b > "$task/wrong.patch" || true
echo "$(basename "$task"): wrong $(grep -c '^[-+][^-+]' "$task/wrong.patch") changed lines"
