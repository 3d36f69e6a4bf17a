"""The link under fire: the emulated M4 behind tinyml_fw/faults.py, which drops, corrupts, duplicates and
delays bytes both ways and resets the board through QEMU's QMP monitor (docs/protocol.md, version 2).

Real training, PlatformIO builds, QEMU and sockets; the faults are seeded. digits-mlp (64-byte inputs)
carries the 1,000-vector case; mnist-mlp (784-byte inputs, several chunks per vector) a shorter one.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from tinyml_fw.data import load_data
from tinyml_fw.deploy import deploy
from tinyml_fw.emulator import EmulatorError, Qemu
from tinyml_fw.errors import DeviceError
from tinyml_fw.faults import Faults, FaultProxy, faulty_board
from tinyml_fw.generate import Project
from tinyml_fw.validate import validate

pytestmark = pytest.mark.slow
quiet = lambda *_: None  # noqa: E731


def deployed(tmp_path_factory, recipe: str):
    run = deploy(recipe, out_dir=tmp_path_factory.mktemp(recipe), limit=5, log=quiet)
    assert run.report.passed
    return Project.load(run.project.path), run.trained.data_path


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    return deployed(tmp_path_factory, "digits-mlp")


@pytest.fixture(scope="module")
def mnist(tmp_path_factory):
    return deployed(tmp_path_factory, "mnist-mlp")


def vectors(data_path, n: int, tmp_path):
    """The recipe's test images, repeated to n."""
    data = load_data(data_path)
    path = tmp_path / f"vectors{n}.npz"
    np.savez(path, x=np.resize(data.x, (n, *data.x.shape[1:])), y=np.resize(data.y, n))
    return path


def test_1000_vectors_at_1_percent_faults_and_two_resets_lose_nothing(digits, tmp_path):
    project, data = digits
    faults = Faults(0.01)  # each byte, both ways: dropped, corrupted, duplicated or delayed
    started = time.monotonic()
    with faulty_board(project, faults, faults, seed=8, reset_after=[20_000, 60_000]) as proxy:
        report = validate(project.path, vectors(data, 1000, tmp_path), port=proxy.url, log=quiet)
        stats, resets_done, errors = proxy.stats, proxy.resets_done, proxy.errors
    seconds = time.monotonic() - started
    print(f"\n1,000 digits vectors at 1 % faults: {seconds:.0f} s, retries {report.retries}, "
          f"resets {report.resets}, restarts {report.restarts}, frames dropped by the host "
          f"{report.frames_dropped}, proxy {stats}")
    assert errors == [] and resets_done == 2
    for direction in stats.values():  # the faults really happened, of every kind, both ways
        assert all(direction[kind] > 100 for kind in ("dropped", "corrupted", "duplicated", "delayed"))
    assert report.vectors == 1000
    assert report.failed_vectors == []  # 0 lost
    assert report.bit_exact == 1000 and report.max_abs_diff == 0  # 0 silent mismatches
    assert report.passed
    assert report.resets == 2  # both resets were noticed (and the vectors in flight sent again)
    assert report.restarts >= 2
    assert report.retries > 300


def test_mnist_vectors_in_chunks_survive_faults_and_a_reset(mnist, tmp_path):
    project, data = mnist
    with faulty_board(project, Faults(0.01), Faults(0.01), seed=3, reset_after=[6_000]) as proxy:
        report = validate(project.path, data, port=proxy.url, limit=12, log=quiet)
    print(f"\n12 mnist vectors at 1 % faults: retries {report.retries}, resets {report.resets}")
    assert (report.vectors, report.bit_exact, report.failed_vectors) == (12, 12, [])
    assert report.resets == 1 and report.passed and report.retries > 0


def test_the_proxy_really_corrupts(digits, tmp_path):
    """With the host's CRC check off for RESULT frames, corrupted result bytes become silent mismatches;
    with it on, the same faults cost retries and nothing else."""
    project, data = digits
    data = vectors(data, 80, tmp_path)
    reports = {}
    for integrity in (False, True):
        with faulty_board(project, seed=5) as proxy:
            def progress(done: int, total: int) -> None:
                if done == 1:  # after the handshake and a first vector: corrupt what the device sends
                    proxy.set_faults(to_host=Faults(0.01, kinds=("corrupt",)))

            reports[integrity] = validate(project.path, data, port=proxy.url, log=quiet, progress=progress,
                                          link_options={"integrity": integrity})
    unchecked, checked = reports[False], reports[True]
    silent = unchecked.vectors - unchecked.bit_exact - len(unchecked.failed_vectors)
    assert silent > 0 and not unchecked.passed
    assert (checked.bit_exact, checked.failed_vectors, checked.passed) == (80, [], True)
    assert checked.retries > 0


def test_a_vector_that_cannot_get_through_is_reported_failed_and_the_run_goes_on(digits, tmp_path):
    project, data = digits
    with faulty_board(project, seed=1) as proxy:
        def progress(done: int, total: int) -> None:
            if done == 5:  # vector 5 meets a line that doubles every byte to the device: the device
                proxy.set_faults(to_device=Faults(1.0, kinds=("duplicate",)))  # drops every frame, says so
            elif done == 6:
                proxy.set_faults(to_device=Faults())

        report = validate(project.path, vectors(data, 12, tmp_path), port=proxy.url, log=quiet,
                          progress=progress)
    assert [f["index"] for f in report.failed_vectors] == [5]
    assert "no answer to INFER" in report.failed_vectors[0]["reason"]
    assert report.bit_exact == 11 and not report.passed


@pytest.mark.parametrize("to_device, to_host, message", [
    # Nothing gets through: the link falls silent, or its requests run out of retransmissions first.
    (Faults(0.5), Faults(0.5), "No valid frame from the device|lost 3 vectors in a row"),
    # Every byte to the device doubled: its ERROR frames get back, no request gets there whole.
    (Faults(1.0, kinds=("duplicate",)), Faults(), "lost 3 vectors in a row"),
])
def test_a_hopeless_link_ends_with_a_clear_error_not_a_hang(digits, tmp_path, to_device, to_host, message):
    project, data = digits
    started = time.monotonic()
    with pytest.raises(DeviceError, match=message):
        with faulty_board(project, seed=2) as proxy:
            def progress(done: int, total: int) -> None:
                if done == 3:
                    proxy.set_faults(to_device, to_host)

            validate(project.path, vectors(data, 50, tmp_path), port=proxy.url, log=quiet, progress=progress,
                     link_options={"timeout": 3.0})
    assert time.monotonic() - started < 120
    assert not proxy.running and not proxy.emulator.running  # both stopped on the way out


def test_ctrl_c_stops_the_proxy_and_the_emulator(digits, tmp_path):
    project, data = digits
    with pytest.raises(KeyboardInterrupt):
        with faulty_board(project, Faults(0.01), Faults(0.01), seed=4) as proxy:
            def progress(done: int, total: int) -> None:
                if done == 3:
                    raise KeyboardInterrupt

            validate(project.path, vectors(data, 10, tmp_path), port=proxy.url, log=quiet, progress=progress)
    assert not proxy.running and not proxy.emulator.running
    assert not [t for t in threading.enumerate() if t.name.startswith("fault-proxy")]


def test_reset_needs_qmp_and_an_idle_proxy_stops_by_itself(tmp_path):
    with pytest.raises(EmulatorError, match="without qmp=True"):
        Qemu(tmp_path / "firmware.elf", "mps2-an386").reset()
    proxy = FaultProxy(1, accept_timeout=0.3).start()  # nobody connects
    time.sleep(0.6)
    assert not proxy.running
    proxy.stop()
    assert not [t for t in threading.enumerate() if t.name.startswith("fault-proxy")]
    with pytest.raises(ValueError):
        Faults(1.5)
