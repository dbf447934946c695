#!/usr/bin/env bash
# Run bench/gpu.py on a GPU machine that has no internet, from the repository root, with the wheels that
# bench/gpu_wheels.sh downloaded (carried along in .whl/a and .whl/b):
#
#   bash bench/gpu_device.sh a            # part a: memory, T4 fits, throughput      (needs .whl/a)
#   bash bench/gpu_device.sh b            # part b: KoBEST parity and speed          (needs .whl/a and .whl/b)
#   bash bench/gpu_device.sh a --smoke    # the same on a CPU with tiny configs (a rehearsal)
#
# The wheels go into a new temporary folder (--target, no dependencies resolved, nothing fetched), removed when the
# benchmark ends; PYTHONPATH puts src/ and that folder before the image's packages, so the carried versions win. A
# probe prints what Python will import, and from where, before the benchmark starts. Options after PART go to
# bench/gpu.py. The table and the raw numbers land in build/gpu/, or in $OUT where the machine collects results
# from a folder it names there; --out DIR overrides both. PYTHON (default python3) and WHL (default .whl) override
# the defaults; GPU_BENCH_SITE names a new or empty folder to install into instead (kept afterwards).
set -uo pipefail

part=${1:-}
case "$part" in a|b) shift ;; *) echo "usage: bash bench/gpu_device.sh a|b [bench/gpu.py options]" >&2; exit 2 ;; esac
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
WHL=${WHL:-.whl}
out=${OUT:-build/gpu}
sets=a
[ "$part" = b ] && sets="a b"

files=()
for s in $sets; do
  found=("$WHL/$s"/*.whl)
  if [ ! -e "${found[0]}" ]; then
    echo "gpu_device.sh: no wheels in $WHL/$s: run 'bash bench/gpu_wheels.sh' where PyPI answers and carry $WHL/$s" >&2
    exit 2
  fi
  files+=("${found[@]}")
done
if [ "$part" = b ]; then
  # datasets 5 imports only with pyarrow >= 24 (the image's pyarrow is whatever it is): else datasets 4.8.5
  arrow=$("$PY" -c "import pyarrow; print(pyarrow.__version__.split('.')[0])" 2>/dev/null || echo 0)
  if [ "$arrow" -lt 24 ]; then
    echo "pyarrow major version $arrow < 24: datasets 4.8.5 instead of datasets 5"
    keep=()
    for f in "${files[@]}"; do case "$f" in */datasets-*) ;; *) keep+=("$f") ;; esac; done
    files=("${keep[@]}" "$WHL"/b/pyarrow21/datasets-*.whl)
  fi
fi

if [ -n "${GPU_BENCH_SITE:-}" ]; then
  SITE=$GPU_BENCH_SITE
  if [ -n "$(ls -A "$SITE" 2>/dev/null)" ]; then
    echo "gpu_device.sh: GPU_BENCH_SITE=$SITE is not empty: name a new or empty folder" >&2
    exit 2
  fi
else
  SITE=$(mktemp -d "${TMPDIR:-/tmp}/gpu-bench-$part.XXXXXX")
  made=$SITE
  trap 'rm -rf "$made"' EXIT
fi
t0=$(date +%s)
"$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --disable-pip-version-check \
  --target "$SITE" "${files[@]}" || { echo "gpu_device.sh: pip install of ${#files[@]} wheels failed" >&2; exit 3; }
echo "installed ${#files[@]} wheels into $SITE in $(( $(date +%s) - t0 )) s"

export PYTHONPATH="$PWD/src:$SITE${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 HF_HUB_DISABLE_PROGRESS_BARS=1
export TOKENIZERS_PARALLELISM=false LLM_SURVEY_PROFILE=tiny

# the probe: every package bench/gpu.py reaches, its version and where it is imported from
"$PY" -c '
import importlib, importlib.metadata as md, sys
print("python", sys.version.split()[0], sys.executable)
names = ["torch", "transformers", "tokenizers", "huggingface_hub", "safetensors", "accelerate", "peft",
         "bitsandbytes", "pydantic", "pydantic_core", "numpy", "pandas", "yaml", "psutil", "sklearn", "scipy",
         "lm_eval", "datasets", "pyarrow", "dill", "multiprocess", "helpers"]
dist = {"yaml": "pyyaml", "sklearn": "scikit-learn", "helpers": "open-llm-survey"}
for name in names:
    try:
        mod = importlib.import_module(name)
    except Exception as exc:
        print(f"  {name:<16} NOT IMPORTABLE: {type(exc).__name__}: {exc}"[:160])
        continue
    try:
        v = md.version(dist.get(name, name))
    except md.PackageNotFoundError:
        v = getattr(mod, "__version__", "?")
    where = getattr(mod, "__file__", "")
    print(f"  {name:<16} {v:<14} {where}")
import torch
print("CUDA", torch.cuda.is_available(), torch.version.cuda, torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
' 2>&1 | grep -v "kernels-community"

"$PY" bench/gpu.py --part "$part" --out "$out" "$@"
