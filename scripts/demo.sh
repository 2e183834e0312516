#!/usr/bin/env bash
# From a fresh checkout: install, build, back up a small built-in sample tree and list the image.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
npm ci --no-audit --no-fund --loglevel=error
npm run build --silent

work=$(mktemp -d "${TMPDIR:-/tmp}/snapdump-demo.XXXXXX")
tree="$work/sample"
mkdir -p "$tree/docs" "$tree/data/nested"
printf 'snapdump sample tree\n' > "$tree/README.txt"
for i in $(seq 1 20); do printf 'line %d of a text file\n' $(seq 1 $((i * 10))) > "$tree/docs/file$i.txt"; done
head -c 300000 /dev/urandom > "$tree/data/random.bin"
truncate -s 5M "$tree/data/sparse.bin" && printf 'end' >> "$tree/data/sparse.bin"
ln -s ../README.txt "$tree/docs/readme-link"
ln "$tree/README.txt" "$tree/data/nested/hardlink"
mkfifo "$tree/data/fifo"

echo "== snapdump backup $tree -f $work/sample.dump"
bin/snapdump backup "$tree" -f "$work/sample.dump" --label sample
echo "== snapdump list -f $work/sample.dump"
bin/snapdump list -f "$work/sample.dump"
echo "(image and tree left in $work)"
