"""mhubio.cohort: series state files and input fingerprints."""

from __future__ import annotations

import os

import pytest

from mhubio.cohort.fingerprint import input_fingerprint
from mhubio.cohort.state import SeriesState, StateOutput, StateStore
from mhubio.core.data import DataItem, Instance
from mhubio.core.filetypes import FileType


def _state(tmp_path, uid="1.2.3") -> SeriesState:
    output = tmp_path / uid / "m.seg.dcm"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(b"seg")
    stat = output.stat()
    return SeriesState(uid, "m", "1.0", "default", "model-fp", "input-fp",
                       (StateOutput(f"{uid}/m.seg.dcm", "sha", stat.st_size, stat.st_mtime_ns),),
                       steps=({"step": "S", "status": "done", "seconds": 0.5},), rows={"series": [{"a": 1}]})


def test_state_round_trip_and_currency(tmp_path):
    store = StateStore(tmp_path, "m")
    state = _state(tmp_path)
    store.write(state)
    read = store.read("1.2.3")
    assert read == state and list(store) == [state]
    assert read.is_current(tmp_path, "model-fp", "input-fp")
    assert not read.is_current(tmp_path, "other-model", "input-fp")
    assert not read.is_current(tmp_path, "model-fp", "other-input")
    output = tmp_path / "1.2.3" / "m.seg.dcm"
    os.utime(output, ns=(0, 0))
    assert not read.is_current(tmp_path, "model-fp", "input-fp")
    output.unlink()
    assert not read.is_current(tmp_path, "model-fp", "input-fp")
    store.remove("1.2.3")
    assert store.read("1.2.3") is None and list(store) == []


def test_unreadable_or_foreign_state_is_ignored(tmp_path):
    store = StateStore(tmp_path, "m")
    store.folder.mkdir(parents=True)
    store.path("1.2.3").write_text("{not json")
    store.path("1.2.4").write_text('{"state_version": 99}')
    assert store.read("1.2.3") is None and store.read("1.2.4") is None and list(store) == []


def test_state_rejects_an_empty_series_uid():
    with pytest.raises(ValueError, match="series UID"):
        SeriesState("", "m", "1", "w", "a", "b", ())


@pytest.mark.parametrize("uid", ["../x", ".hidden", "a/b", "..", "x" * 300])
def test_unsafe_series_uids_are_stored_inside_the_state_folder(tmp_path, uid):
    store = StateStore(tmp_path, "../m")
    written = store.write(SeriesState(uid, "m", "1", "w", "a", "b", ()))
    assert written.resolve().is_relative_to((tmp_path / "mhub_state").resolve())
    assert written.parent == store.folder and not written.name.startswith(".")
    assert store.read(uid) is not None and [s.series_uid for s in store] == [uid]


def test_input_fingerprint_ignores_names_and_order_but_not_content(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for folder, names in (("a", ("1.dcm", "2.dcm")), ("b", ("z", "y"))):
        for name, content in zip(names, (b"one", b"two"), strict=True):
            (tmp_path / folder / name).write_bytes(content)

    def instance(folder, files):
        paths = tuple(tmp_path / folder / f for f in files)
        item = DataItem(FileType.DICOM, tmp_path / folder, {"mod": "ct"}, files=paths)
        return Instance("1.2", {}, tmp_path / "work", [item])

    first = input_fingerprint(instance("a", ("1.dcm", "2.dcm")))
    assert first == input_fingerprint(instance("b", ("y", "z")))
    (tmp_path / "b" / "z").write_bytes(b"changed")
    assert first != input_fingerprint(instance("b", ("y", "z")))
    assert input_fingerprint(Instance("1.3", {}, tmp_path / "work")) is None


def _two_instances(folder):
    """Instances 1.1 and 1.2, each with one small input file of its own content."""
    instances = []
    for uid in ("1.1", "1.2"):
        (folder / uid).mkdir()
        (folder / uid / "1.dcm").write_bytes(uid.encode())
        item = DataItem(FileType.DICOM, folder / uid, {"mod": "ct"}, files=(folder / uid / "1.dcm",))
        instances.append(Instance(uid, {}, folder / "work", [item]))
    return instances


def _cohort_run(folder, monkeypatch):
    """A CohortRun over ``folder / "out"`` for a stand-in chain (model fingerprint fixed)."""
    from types import SimpleNamespace

    from mhubio.cohort import resume

    monkeypatch.setattr(resume, "model_fingerprint", lambda chain, workflow: "model")
    model = SimpleNamespace(name="m", version="1")
    chain = SimpleNamespace(importer=SimpleNamespace(module=SimpleNamespace(context=SimpleNamespace(model=model))))
    return resume.CohortRun(chain, folder / "out", "default", resume=False)


def test_input_fingerprints_are_hashed_ahead_on_a_thread_and_survive_close(tmp_path, monkeypatch):
    """The series selected to run are hashed on a background thread in run order; a fingerprint still queued
    when the run closes is computed when it is asked for, and both equal ``input_fingerprint``."""
    import threading

    from mhubio.cohort import resume

    instances = _two_instances(tmp_path)
    threads, release = [], threading.Event()

    def hashed(files):
        threads.append(threading.current_thread().name)
        release.wait(10)
        return input_fingerprint(instances[len(threads) - 1])

    monkeypatch.setattr(resume, "files_fingerprint", hashed)
    cohort = _cohort_run(tmp_path, monkeypatch)
    assert cohort.select(instances) == instances
    while not threads:
        threading.Event().wait(0.01)
    assert threads == ["mhub-input-hash_0"]  # the first is being hashed, the second waits
    closing = threading.Thread(target=cohort.close)
    closing.start()
    while not cohort._inputs["1.2"].cancelled():  # type: ignore[union-attr]
        threading.Event().wait(0.01)
    release.set()
    closing.join(10)
    assert threads == ["mhub-input-hash_0"]
    expected = [input_fingerprint(i) for i in instances]
    monkeypatch.setattr(resume, "files_fingerprint", lambda files: expected[1])
    assert [cohort._input_fingerprint(i) for i in instances] == expected


def test_selecting_twice_hashes_on_the_one_thread_of_the_run(tmp_path, monkeypatch):
    import threading

    from mhubio.cohort import resume

    instances = _two_instances(tmp_path)
    threads: list[threading.Thread] = []

    def hashed(files):
        threads.append(threading.current_thread())
        return "digest-" + files[0].parent.name

    monkeypatch.setattr(resume, "files_fingerprint", hashed)
    cohort = _cohort_run(tmp_path, monkeypatch)
    cohort.select(instances[:1])
    cohort.select(instances[1:])
    assert [cohort._input_fingerprint(i) for i in instances] == ["digest-1.1", "digest-1.2"]
    cohort.close()
    assert len(set(threads)) == 1 and not threads[0].is_alive()
