#!/usr/bin/env bash
# Download the wheels that bench/gpu.py needs on a GPU machine without internet, in two sets:
#
#   .whl/a  part a (memory, T4 fits, throughput): transformers, peft, bitsandbytes (its CUDA 13.0 binary only),
#           pydantic and what pydantic needs
#   .whl/b  part b (KoBEST parity): lm-eval and the part of its dependencies that its log-likelihood path with
#           local JSON tasks imports; part b installs set a too
#
# Run it here (where PyPI answers), from the repository root:
#
#   bash bench/gpu_wheels.sh                      # cp312 wheels into .whl/ (the GPU image's Python is 3.12)
#   DEST=/tmp/whl311 bash bench/gpu_wheels.sh 3.11   # the same set for Python 3.11, to rehearse on a CPU here
#
# Versions come from constraints.txt (what CI tests), except bitsandbytes (not in CI: CUDA only). What the GPU
# image already has (torch, tokenizers, safetensors, accelerate, huggingface_hub, numpy, pandas, scikit-learn, pyyaml,
# psutil, pyarrow, jinja2, sacrebleu, ...) is not downloaded. The image's pyarrow version is unknown and datasets 5
# needs pyarrow >= 24, so set b also holds datasets 4.8.5 (pyarrow >= 21) under .whl/b/pyarrow21/; the device script
# (bench/gpu_device.sh) picks the one the image's pyarrow can import. .whl/ is ignored by git.
set -euo pipefail

PYVER=${1:-3.12}
DEST=${DEST:-.whl}
PY=${PYTHON:-python3}
BNB_VERSION=0.50.2       # the CUDA 13 build; requirements-gpu.txt says >=0.45
BNB_KEEP='libbitsandbytes_cuda130.so libbitsandbytes_cpu.so'   # torch 2.11 on the GPU image is built for CUDA 13.0
OLD_DATASETS=4.8.5       # the newest datasets that imports with pyarrow 21..23

cd "$(dirname "$0")/.."

pin() {  # NAME -> NAME==VERSION from constraints.txt (names compared without case, - and _ alike)
  local want line
  want=$(echo "$1" | tr 'A-Z_' 'a-z-')
  line=$(grep -i -E "^[A-Za-z0-9_.-]+==" constraints.txt | while IFS= read -r l; do
    n=$(echo "${l%%==*}" | tr 'A-Z_' 'a-z-'); [ "$n" = "$want" ] && echo "$l"; done | head -1)
  if [ -z "$line" ]; then echo "gpu_wheels.sh: $1 is not pinned in constraints.txt" >&2; exit 1; fi
  echo "$line"
}

download() {  # DIR SPEC...
  local dir=$1; shift
  mkdir -p "$dir"
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version "$PYVER" --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d "$dir" "$@"
}

rm -rf "$DEST/a" "$DEST/b"

# set a: our package's runtime imports on bench/gpu.py's path that the image lacks or has too old
download "$DEST/a" "$(pin transformers)" "$(pin peft)" "$(pin pydantic)" "$(pin pydantic_core)" \
  "$(pin annotated-types)" "$(pin typing-inspection)" "$(pin typing_extensions)" "bitsandbytes==$BNB_VERSION"

# bitsandbytes ships one binary per CUDA/ROCm version (41 MiB): keep the CUDA 13.0 one (and the CPU one)
"$PY" - "$DEST/a" "$BNB_KEEP" <<'EOF'
import glob, os, sys, zipfile
folder, keep = sys.argv[1], set(sys.argv[2].split())
(wheel,) = glob.glob(os.path.join(folder, "bitsandbytes-*.whl"))
dropped = lambda name: name.startswith("bitsandbytes/libbitsandbytes_") and os.path.basename(name) not in keep
tmp = wheel + ".tmp"
with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
    names = src.namelist()
    missing = keep - {os.path.basename(n) for n in names}
    if missing:
        sys.exit(f"{wheel} has no {sorted(missing)}")
    for name in names:
        if dropped(name):
            continue
        data = src.read(name)
        if name.endswith(".dist-info/RECORD"):  # the files we drop leave the record too
            data = b"".join(l for l in data.splitlines(True) if not dropped(l.split(b",")[0].decode()))
        dst.writestr(src.getinfo(name), data)
os.replace(tmp, wheel)
print(f"bitsandbytes trimmed to {sorted(keep)}: {os.path.getsize(wheel) / 2**20:.1f} MiB")
EOF

# set b: lm-eval's log-likelihood path on local JSON tasks (lm_eval.simple_evaluate with HFLM on a model object)
# (found by running that path in a venv holding only the image's packages: of lm-eval's requirements it imports
# datasets, and datasets imports dill and multiprocess; sqlitedict, evaluate, rouge-score, pytablewriter,
# word2number and more-itertools are not imported on this path; sacrebleu, scikit-learn and jinja2 are in the image)
download "$DEST/b" "$(pin lm_eval)" "$(pin datasets)" "$(pin dill)" "$(pin multiprocess)"
download "$DEST/b/pyarrow21" "datasets==$OLD_DATASETS"

# what there is to carry to the GPU machine
for set in a b; do
  echo "$DEST/$set: $(find "$DEST/$set" -name '*.whl' | wc -l) wheels, $(du -sm "$DEST/$set" | cut -f1) MiB"
done
echo "together: $(du -scm "$DEST/a" "$DEST/b" | tail -1 | cut -f1) MiB"
