#!/usr/bin/env bash
# Pack what benchmarks/device_forget_quality.sh needs on a lent GPU machine that cannot install packages:
# the model's GGUF and the labeller's MiniLM split into pieces that fit one call's 64 MiB, and the wheels
# that machine's image lacks. Run here, in the repository root:
#   bash benchmarks/device_pack.sh qwen2.5-coder-0.5b-instruct
# Then send one piece per call, each copied out of the checkout at once (a carried folder replaces the
# last one's), and run the benchmark in the last call:
#   carry [".xfer/q.00"]:  mkdir -p /tmp/q && cp .xfer/* /tmp/q/        (one call per piece)
#   carry [".xfer/q.08", ".whl"]:  cp .xfer/* /tmp/q/ && CHUNKS=/tmp/q bash benchmarks/device_forget_quality.sh ...
set -euo pipefail
M=${1:-qwen2.5-coder-0.5b-instruct}
SP=$(python3 -c "import site; print(site.getsitepackages()[0])")
grep -qx '/.xfer/' .git/info/exclude 2>/dev/null || printf '/.xfer/\n/.whl/\n/.rh/\n' >> .git/info/exclude
rm -rf .xfer && mkdir -p .xfer .whl
files=$(python3 -c "
from repair.models.registry import BUNDLED
print(' '.join(BUNDLED['$M'].files))")
(cd "$SP" && cat $files) | split -b 57671680 -d - .xfer/q.
# the labeller's encoder: its weights split like the model's, its small files in one tarball
MINI=$(python3 -c "from repair.agents.embed import minilm_path; print(minilm_path())")
split -b 57671680 -d "$MINI/model.safetensors" .xfer/m.
tar czf .xfer/minilm-files.tgz -C "$MINI" --exclude model.safetensors --exclude '*.onnx' .
py=$(python3 -c "import pydantic, pydantic_core, importlib.metadata as m; print(' '.join(f'{n}=={m.version(n)}' for n in ['pydantic', 'pydantic-core', 'annotated-types', 'typing-inspection', 'nltk', 'gguf']))")
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl $py
python3 -m pip wheel -q --no-deps -w .whl rouge-score==0.1.2
ls -la .xfer .whl
