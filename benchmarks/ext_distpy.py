"""Time one pass of distpy's own FBE processing (runs under distpy's Python 3.8 stack).

Usage: ``<distpy python> ext_distpy.py SYSTEM_CONFIG OUT_DIR N_CHUNKS [--warmup]``.
The clock wraps ``parallel_strainrate_processing.main()`` only (interpreter start
and imports excluded; distpy's own pool start-up included, as distpy starts a
process per chunk by design). The output folder is deleted first, because distpy
skips chunks whose outputs exist; afterwards every ``.fbe`` must be there.
Prints one JSON line: ``{"seconds": ..., "files": ...}``.
"""

import json
import os
import shutil
import sys
import time


def count_fbe(folder):
    return sum(1 for _, _, names in os.walk(folder) for n in names if n.endswith(".fbe"))


def one_pass(module, config, out_dir):
    shutil.rmtree(out_dir, ignore_errors=True)
    t0 = time.perf_counter()
    module.main(config)
    return time.perf_counter() - t0


def main():
    config, out_dir, expected = sys.argv[1], sys.argv[2], int(sys.argv[3])
    import distpy.controllers.parallel_strainrate_processing as psp

    if "--warmup" in sys.argv:
        one_pass(psp, config, out_dir)
    seconds = one_pass(psp, config, out_dir)
    files = count_fbe(out_dir)
    if files != expected:
        raise SystemExit(f"distpy wrote {files} .fbe files, expected {expected}")
    print(json.dumps({"seconds": seconds, "files": files}))


if __name__ == "__main__":
    main()
