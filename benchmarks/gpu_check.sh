#!/usr/bin/env bash
# raydas on a GPU machine, in one go (under 8 minutes): bash benchmarks/gpu_check.sh
#
# Installs raydas with its gpu and test extras (nothing else), then prints one line per check:
#   gpu         the device nvidia-smi and cupy see
#   commands    every command's conformance rows on real cupy against numpy, to float32 tolerance
#               (tests/commands/test_commands_conformance.py with RAYDAS_TEST_XP=cupy)
#   h2d / fbe_gpu / xcorr_gpu
#               benchmarks/gpu_bench.py: host-to-device bandwidth, the FBE noise log and all-pairs
#               xcorr on the GPU against numpy and against that bandwidth
#   demo        `raydas demo --device gpu` (small sizes) ends with its results written
# SKIP_INSTALL=1 skips the install (an environment that has them); PYTHON picks the interpreter.
# Each step has its own time limit; a failed step says FAIL and the script goes on. Exit status 0 only when
# every check passed. Logs go to $GPU_CHECK_LOGS (default: a temporary folder), named in each line.
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
LOGS=${GPU_CHECK_LOGS:-$(mktemp -d /tmp/raydas-gpu-check.XXXXXX)}
mkdir -p "$LOGS"
FAILED=0
line() { printf '%-10s %s\n' "$1" "$2"; }
fail() { line "$1" "FAIL: $2"; FAILED=1; }
last() { grep -v -E '^\[|^ *@|^\*\*\*|^PC:' "$1" | tail -1; }  # the last line that is not a crash dump

if [ -n "${SKIP_INSTALL:-}" ]; then
    line install "skipped (SKIP_INSTALL set)"
elif timeout 120 "$PY" -m pip install -q -e '.[gpu,test]' >"$LOGS/install.log" 2>&1; then
    line install "ok ($("$PY" -c 'import raydas, cupy; print("raydas", raydas.__version__, "cupy", cupy.__version__)' 2>&1))"
else
    fail install "pip install -e .[gpu,test] failed or timed out; going on with what is installed (see $LOGS/install.log)"
fi

GPU=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -1)
if timeout 30 "$PY" -c 'import cupy; assert cupy.cuda.is_available(); cupy.arange(3).sum().get()' >"$LOGS/cupy.log" 2>&1; then
    line gpu "ok: ${GPU:-nvidia-smi says nothing}; cupy works"
else
    fail gpu "${GPU:-no nvidia-smi}; cupy cannot compute ($(tail -1 "$LOGS/cupy.log"))"
fi

if RAYDAS_TEST_XP=cupy timeout 140 "$PY" -m pytest -q -p no:cacheprovider tests/commands/test_commands_conformance.py \
        tests/commands/test_stacking.py -k "xp_interface or on_a_device" >"$LOGS/commands.log" 2>&1; then
    line commands "ok: $(tail -1 "$LOGS/commands.log")"
else
    fail commands "$(tail -1 "$LOGS/commands.log") (failures in $LOGS/commands.log)"
fi

if timeout 90 "$PY" benchmarks/gpu_bench.py --chunks 5 >"$LOGS/bench.log" 2>&1; then
    grep -E '^(h2d|fbe_gpu|xcorr_gpu):' "$LOGS/bench.log" | while IFS= read -r l; do line "${l%%:*}" "${l#*: }"; done
else
    fail bench "$(last "$LOGS/bench.log") (see $LOGS/bench.log)"
fi

DEMO="$LOGS/demo"
if timeout 90 "$PY" -m raydas demo --device gpu --out "$DEMO" --files 2 --seconds 5 --channels 100 \
        >"$LOGS/demo.log" 2>&1; then
    line demo "ok: $(find "$DEMO/results" -type f 2>/dev/null | wc -l) result files under $DEMO/results"
else
    fail demo "$(last "$LOGS/demo.log") (see $LOGS/demo.log)"
fi
exit $FAILED
