"""The Zarr v3 writer: one store per recording, filled chunk by chunk in any order
and from many processes at once (real Ray tasks and processor actors, a local
disk and the moto S3 server), opened with xarray and compared sample by sample
with the recording; the planner's placement; bad input refused."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from raydas.chunk import Chunk, Placement
from raydas.errors import PipelineError, RaydasError
from raydas.formats.zarr_writer import ZarrSlot, write_zarr
from raydas.outputs import OutputSink
from raydas.pipeline import Pipeline
from raydas.timeutil import NS_PER_S, unix_stem

zarr = pytest.importorskip("zarr")
xr = pytest.importorskip("xarray")

START = 1_717_243_200 * NS_PER_S + 125_000_000  # 2024-06-01T12:00:00.125Z
DT = 0.002  # s
N_CHANNELS, N_SAMPLES, GRID = 5, 1000, 300  # the last chunk holds 100 samples
POSITIONS = 100.0 + 2.0 * np.arange(N_CHANNELS)  # m
WHOLE = np.random.default_rng(9).standard_normal((N_CHANNELS, N_SAMPLES)).astype(np.float32)


def recording_chunks(halo: int = 0) -> list[Chunk]:
    """The recording cut as the planner cuts it: chunks of GRID own samples, up to ``halo`` around."""
    chunks = []
    for k, first in enumerate(range(0, N_SAMPLES, GRID)):
        stop = min(first + GRID, N_SAMPLES)
        lo, hi = max(0, first - halo), min(N_SAMPLES, stop + halo)
        chunks.append(
            Chunk(
                WHOLE[:, lo:hi],
                START + round(lo * DT * NS_PER_S),
                DT,
                POSITIONS,
                halo=(first - lo, hi - stop),
                units="strain/s",
                index=k,
                placement=Placement(START, first, N_SAMPLES, GRID),
            )
        )
    return chunks


def expected_times(n: int = N_SAMPLES) -> np.ndarray:
    return np.array([START + round(i * DT * NS_PER_S) for i in range(n)], dtype="datetime64[ns]")


def check_dataset(ds) -> None:
    """The store holds the whole recording: same samples, times and positions."""
    assert ds["data"].dims == ("distance", "time") and ds["data"].dtype == np.float32
    np.testing.assert_array_equal(ds["data"].values, WHOLE)
    np.testing.assert_array_equal(ds["time"].values, expected_times())
    np.testing.assert_array_equal(ds["distance"].values, POSITIONS)
    assert ds["data"].attrs["units"] == "strain/s" and ds["distance"].attrs["units"] == "m"


def test_chunks_written_in_any_order_make_the_recording(tmp_path):
    chunks = recording_chunks(halo=7)
    for i in (3, 0, 2, 1):
        write_zarr(chunks[i], str(tmp_path))
    store = tmp_path / f"{unix_stem(START)}.zarr"
    check_dataset(xr.open_zarr(str(store), consolidated=False))
    array = zarr.open_array(str(store / "data"), mode="r")
    assert array.metadata.zarr_format == 3 and array.chunks == (N_CHANNELS, GRID) and array.shape == WHOLE.shape
    assert not [p for p in store.rglob(".*")]  # no temporary file left


def test_a_missing_chunk_reads_as_nan_and_nat(tmp_path):
    chunks = recording_chunks()
    for i in (0, 2, 3):
        write_zarr(chunks[i], str(tmp_path))
    ds = xr.open_zarr(str(tmp_path / f"{unix_stem(START)}.zarr"), consolidated=False)
    data = ds["data"].values
    assert np.isnan(data[:, GRID : 2 * GRID]).all()
    np.testing.assert_array_equal(data[:, :GRID], WHOLE[:, :GRID])
    assert np.isnat(ds["time"].values[GRID : 2 * GRID]).all()


def test_each_chunk_writes_only_its_own_zarr_chunk_and_the_shared_metadata(tmp_path):
    chunks = recording_chunks()
    written = write_zarr(chunks[2], str(tmp_path))
    store = f"{tmp_path}/{unix_stem(START)}.zarr"
    own = [w[len(store) + 1 :] for w in written]
    assert own[:2] == ["data/c/0/2", "time/c/2"]
    assert set(own[2:]) == {"distance/c/0", "zarr.json", "data/zarr.json", "time/zarr.json", "distance/zarr.json"}
    # the shared files are the same bytes whichever chunk wrote them
    shared = {k: open(f"{store}/{k}", "rb").read() for k in own[2:]}
    write_zarr(chunks[0], str(tmp_path))
    assert shared == {k: open(f"{store}/{k}", "rb").read() for k in own[2:]}


def writer_task(ray):
    """A Ray task doing what a processor actor does: compile the graph from JSON and run
    it on its chunk into the results root (defined here so that Ray ships it by value)."""

    def write(chunk: Chunk, root: str, env: dict | None = None) -> list[str]:
        import os

        import numpy as np

        from raydas.outputs import OutputSink
        from raydas.pipeline import Pipeline

        if env:
            os.environ.update(env)
        command = {"name": "write_zarr", "uid": 1, "in_uid": 0, "directory_out": "z", "units": "strain/s"}
        return Pipeline.from_config({"command_list": [command]}).run(chunk, np, OutputSink(root)).written

    return ray.remote(write)


def test_ray_tasks_write_at_once_into_a_local_store(ray_session, tmp_path):
    ray = ray_session
    task = writer_task(ray)
    chunks = recording_chunks(halo=3)
    written = ray.get([task.remote(c, str(tmp_path)) for c in reversed(chunks)])
    assert written == [[f"z/{c.stem}.zarr-chunk.json"] for c in reversed(chunks)]  # counted: one receipt each
    check_dataset(xr.open_zarr(str(tmp_path / "z" / f"{unix_stem(START)}.zarr"), consolidated=False))
    receipt = json.loads((tmp_path / "z" / f"{chunks[3].stem}.zarr-chunk.json").read_text())
    assert receipt["first_sample"] == 900 and receipt["samples"] == 100 and receipt["start_ns"] == chunks[3].start_ns
    assert receipt["files"][:2] == ["data/c/0/3", "time/c/3"]


def test_ray_tasks_write_at_once_into_a_store_on_s3(ray_session, s3_server, s3_bucket):
    ray = ray_session
    env = {k: os.environ[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    env.update(AWS_ENDPOINT_URL=s3_server, FSSPEC_S3_ENDPOINT_URL=s3_server)
    task = writer_task(ray)
    root = f"{s3_bucket}/results"
    chunks = recording_chunks()
    ray.get([task.remote(c, root, env) for c in chunks])
    import s3fs

    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": s3_server})
    url = f"{root}/z/{unix_stem(START)}.zarr"
    assert fs.exists(f"{url}/data/c/0/3".removeprefix("s3://"))
    ds = xr.open_zarr(url, consolidated=False, storage_options={"client_kwargs": {"endpoint_url": s3_server}})
    check_dataset(ds)


@pytest.mark.slow
def test_a_run_on_processor_actors_fills_one_store_per_recording(ray_session, demo_files, tmp_path):
    import segyio

    from raydas.config import RunConfig
    from raydas.runtime import run

    out = tmp_path / "res"
    processing = {"command_list": [{"name": "write_zarr", "uid": 1, "in_uid": 0, "directory_out": "z"}]}
    config = RunConfig(input=demo_files, output=str(out), processing=processing, quicklook=False, ray={"num_actors": 2})
    report = run(config, progress=False)
    assert report.ok and report.chunks_done == 12
    data = []
    for path in demo_files:
        with segyio.open(path, ignore_geometry=True) as f:
            data.append(np.asarray(f.trace.raw[:], dtype=np.float32))
    whole = np.concatenate(data, axis=1)
    (recording,) = [p for p in (out / "z").iterdir() if p.is_dir()]  # the recording's output folder
    (store,) = [p for p in os.listdir(recording) if p.endswith(".zarr")]
    ds = xr.open_zarr(str(recording / store), consolidated=False)
    np.testing.assert_array_equal(ds["data"].values, whole)
    times = ds["time"].values.astype(np.int64)
    assert np.all(np.diff(times) == 1_000_000) and store == f"{unix_stem(int(times[0]))}.zarr"
    assert len([p for p in os.listdir(recording) if p.endswith(".zarr-chunk.json")]) == 12


def test_the_planner_places_every_chunk():
    from raydas.formats.base import RecordInfo
    from raydas.recording import assemble, plan_chunks

    record = RecordInfo("memory://r.npy", "test", 3, 2500, 0.001, START, np.arange(3.0))
    recordings, _ = assemble([record])
    plans = plan_chunks(recordings, chunk_seconds=1.0, halo_samples=10)
    assert [p.placement for p in plans] == [
        Placement(START, 0, 2500, 1000),
        Placement(START, 1000, 2500, 1000),
        Placement(START, 2000, 2500, 1000),
    ]


def test_a_resampled_input_is_refused_naming_the_command(tmp_path):
    chunk = recording_chunks()[1]
    graph = [
        {"name": "downsample", "uid": 1, "in_uid": 0, "tsample": 2},
        {"name": "write_zarr", "uid": 2, "in_uid": 1, "directory_out": "z"},
    ]
    pipeline = Pipeline.from_config({"command_list": graph})
    with pytest.raises(PipelineError, match=r"write_zarr .*150 columns where the chunk has 300 samples"):
        pipeline.run(chunk, np, OutputSink(str(tmp_path)))
    assert not (tmp_path / "z").exists()


@pytest.mark.parametrize(
    "data, positions, message",
    [
        (np.ones(300, np.float32), POSITIONS[:1], "1-D array"),
        (np.ones((5, 300), np.float32), [0.0, 1.0, np.nan, 3.0, 4.0], "finite metres"),
    ],
)
def test_wrong_input_is_refused(tmp_path, data, positions, message):
    from raydas.formats.writecheck import checked_patch

    with pytest.raises(RaydasError, match=message):
        checked_patch("Zarr writer", data, START, DT, positions)


def test_a_chunk_outside_its_array_is_refused():
    with pytest.raises(RaydasError, match="300 columns where the chunk has 100 samples"):
        ZarrSlot.of(Placement(START, 900, 1000, 300), 300, START, "Zarr writer")


def test_a_chunk_planned_earlier_does_not_shorten_a_growing_recording(tmp_path):
    """raydas watch plans again as files arrive: the recording (and its array) grows."""
    chunks = recording_chunks()
    grown = Chunk(
        WHOLE[:, GRID : 2 * GRID], START + round(GRID * DT * NS_PER_S), DT, POSITIONS, units="strain/s",
        placement=Placement(START, GRID, 2 * N_SAMPLES, GRID),
    )  # fmt: skip
    root = str(tmp_path)
    sink = OutputSink(root)
    pipeline = Pipeline.from_config(
        {"command_list": [{"name": "write_zarr", "uid": 1, "in_uid": 0, "directory_out": "z", "units": "strain/s"}]}
    )
    pipeline.run(grown, np, sink)
    pipeline.run(chunks[0], np, sink)  # planned when the recording held N_SAMPLES
    array = zarr.open_array(f"{root}/z/{unix_stem(START)}.zarr/data", mode="r")
    assert array.shape == (N_CHANNELS, 2 * N_SAMPLES)
    np.testing.assert_array_equal(array[:, : 2 * GRID], WHOLE[:, : 2 * GRID])
