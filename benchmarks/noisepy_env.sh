#!/usr/bin/env bash
# A scratch interpreter in which NoisePy's numpy functions run, for tests/commands/test_noisepy_parity.py:
#
#   bash benchmarks/noisepy_env.sh [FOLDER]          # default /tmp/noisepy-venv; prints its python
#   RAYDAS_NOISEPY_PYTHON=FOLDER/bin/python python -m pytest tests/commands/test_noisepy_parity.py
#
# noisepy-seis declares Python < 3.11 and pulls in a large stack (obspy, numba, zarr, s3fs, ...). Its
# preprocessing and correlation functions are plain numpy/scipy, so this installs it without its declared
# dependencies into a venv that also sees the packages of the interpreter that runs it (raydas's environment:
# numpy, scipy, obspy, numba, pydantic come from there), plus the few pure-Python modules its imports need.
# Run it with raydas's Python (PYTHON=... to choose).
set -eu
PY=${PYTHON:-python3}
DIR=${1:-/tmp/noisepy-venv}
"$PY" -m venv "$DIR"
SITE=$("$DIR/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
"$PY" -c 'import site; print(site.getsitepackages()[0])' >"$SITE/raydas-environment.pth"
"$DIR/bin/pip" install -q --no-deps --ignore-requires-python \
    noisepy-seis==0.9.93 noisepy-seis-io==0.3.5 pyasdf==0.8.2 dill==0.4.1 prov==3.2.3 pydantic-yaml==1.7.0 \
    ruamel.yaml==0.19.1 psutil==7.2.2 diskcache==5.6.3 DateTimeRange==2.3.2 typepy==2.0.0 mbstrdecoder==1.1.5
"$DIR/bin/python" -c 'import noisepy.seis.noise_module'
echo "$DIR/bin/python"
