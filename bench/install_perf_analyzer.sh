#!/usr/bin/env bash
# Install Triton's perf_analyzer into the virtual environment's bin folder.
#
# perf_analyzer ships only inside the tritonclient wheels. 2.50.0 is the newest whose binary runs
# on glibc 2.36 (Debian 12); its Python package conflicts with the project's tritonclient on
# protobuf, so the wheel is downloaded without installing it and ONLY the binary is extracted.
# It needs libb64 (Debian libb64-0d) and libcudart.so.12 (the PyPI wheel nvidia-cuda-runtime-cu12,
# part of the bench extra); bench/perf_analyzer.py puts the latter on LD_LIBRARY_PATH when it runs.
#
# Usage: bench/install_perf_analyzer.sh [VENV]   (default .venv). Idempotent: a working binary is kept.
set -euo pipefail

VENV="${1:-.venv}"
VERSION="2.50.0"
BIN="$VENV/bin"
TARGET="$BIN/perf_analyzer"
PYTHON="$BIN/python"

if [ ! -x "$PYTHON" ]; then
    echo "install_perf_analyzer: no Python at $PYTHON; create the virtual environment first" >&2
    exit 1
fi

CUDART_LIB="$("$PYTHON" -c 'import nvidia.cuda_runtime as m, os; print(os.path.join(list(m.__path__)[0], "lib"))' \
    2>/dev/null || true)"
if [ -z "$CUDART_LIB" ]; then
    echo "install_perf_analyzer: nvidia-cuda-runtime-cu12 is missing; pip install 'nvidia-cuda-runtime-cu12~=12.0'" >&2
    exit 1
fi

works() {
    LD_LIBRARY_PATH="$CUDART_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$TARGET" --version >/dev/null 2>&1
}

if [ -x "$TARGET" ] && works; then
    exit 0
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
echo "install_perf_analyzer: downloading tritonclient==$VERSION (binary wheel, not installed)"
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --dest "$WORK" "tritonclient==$VERSION"
WHEEL="$(ls "$WORK"/tritonclient-"$VERSION"-*.whl)"
# Extract the one member to a temp file in the same folder, then rename: never a half-written binary.
"$PYTHON" - "$WHEEL" "$TARGET.partial" "$VERSION" <<'PY'
import shutil, sys, zipfile
wheel, destination, version = sys.argv[1:]
member = f"tritonclient-{version}.data/data/bin/perf_analyzer"
with zipfile.ZipFile(wheel) as archive, archive.open(member) as source, open(destination, "wb") as target:
    shutil.copyfileobj(source, target)
PY
chmod 755 "$TARGET.partial"
mv -f "$TARGET.partial" "$TARGET"

if ! works; then
    echo "install_perf_analyzer: $TARGET does not start; the output was:" >&2
    LD_LIBRARY_PATH="$CUDART_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$TARGET" --version >&2 || true
    echo "install_perf_analyzer: it needs libb64 (apt-get install libb64-0d) and glibc >= 2.35" >&2
    exit 1
fi
echo "install_perf_analyzer: installed $TARGET"
