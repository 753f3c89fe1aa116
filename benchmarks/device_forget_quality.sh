#!/usr/bin/env bash
# The forget-quality benchmark for a bundled model on a lent GPU machine that cannot install packages:
# its GGUF arrives split in .xfer/q.* and missing wheels in .whl/ (see the device tool's README).
#   bash benchmarks/device_forget_quality.sh qwen2.5-coder-0.5b-instruct "stamp2 none stamp2@20 stamp" 540
# A method written NAME@N runs --sequential N. The refusal vector and the known list are made here only when
# the checkout lacks them; unedited replies already measured can be carried in .rh/fq/MODEL/base-*.json.
# Writes the log, the known list, the fitted refusal vector and a tarball of the runs under $OUT.
set -u -o pipefail
M=${1:-qwen2.5-coder-0.5b-instruct}
METHODS=${2:-stamp2 icu stamp}
DEADLINE=${3:-540}  # seconds from the start: methods that would run past it are stopped
OUT=${OUT:-/tmp/out}
export PYTHONUNBUFFERED=1 REPAIR_HOME=$PWD/.rh REPAIR_NO_FETCH=1 TOKENIZERS_PARALLELISM=false
exec > >(tee "$OUT/log.txt") 2>&1
t0=$SECONDS
nvidia-smi -L
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/src
mkdir -p .rh/gguf
C=${CHUNKS:-.xfer}
[ -e ".rh/models/$M/repair_source.json" ] || cat "$C"/q.* > ".rh/gguf/$M.gguf"
if [ -e "$C/minilm-files.tgz" ]; then  # the labeller's encoder
  mkdir -p .rh/minilm && tar xzf "$C/minilm-files.tgz" -C .rh/minilm && cat "$C"/m.* > .rh/minilm/model.safetensors
  export REPAIR_MINILM_PATH=$PWD/.rh/minilm
fi
mkdir -p .rh/bin && printf '#!/bin/sh\nexec python3 -c "from repair.cli import app; app()" "$@"\n' > .rh/bin/repair
chmod +x .rh/bin/repair && export PATH=$PWD/.rh/bin:$PATH
V=src/repair/data/refusal_vectors/$M.json K=src/repair/data/forget_quality/known/$M.json
[ -e "$V" ] || { python3 benchmarks/fit_refusal_vector.py --model "$M" && cp "$V" "$OUT/vector-$M.json"; }
echo "== ready after $((SECONDS - t0)) s"
[ -e "$K" ] || { repair eval forget-quality -m "$M" --filter && cp "$K" "$OUT/known-$M.json"; }
echo "== filter done after $((SECONDS - t0)) s"
for spec in $METHODS; do
  left=$((DEADLINE - (SECONDS - t0)))
  [ "$left" -gt 30 ] || break
  method=${spec%@*} seq=()
  [ "$spec" = "$method" ] || seq=(--sequential "${spec#*@}")
  timeout "$left" repair eval forget-quality -m "$M" --method "$method" "${seq[@]}" --out .rh/fq
  echo "== $spec ended ($?) after $((SECONDS - t0)) s"
done
tar czf "$OUT/fq.tgz" .rh/fq .rh/forget-quality 2>/dev/null
echo "== all done after $((SECONDS - t0)) s"
