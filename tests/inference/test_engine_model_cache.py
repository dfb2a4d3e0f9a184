"""The per-process model cache: lazy loads, one load per model, LRU under a byte budget."""

import gc
import threading
import weakref

import pytest
import torch

from inference.engine.device import configure_torch_threads, cores_given, select_device
from inference.engine.model_cache import ModelCache, ModelUnavailable, estimate_bytes
from inference.engine.scheduler import Scheduler
from tests.support.models import build_model_folder


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    for name, kind in [("a", "gpt2"), ("b", "llama"), ("c", "gpt2")]:
        build_model_folder(folder / name, kind=kind, seed=len(name))
    return folder


def one_model_bytes(root) -> int:
    cache = ModelCache(root=root, budget_bytes=2**30)
    return cache.acquire("a").nbytes


def test_the_size_estimate_from_headers_matches_the_loaded_model(root):
    loaded = ModelCache(root=root, budget_bytes=2**30).acquire("b")

    assert estimate_bytes(root / "b", torch.float32) == pytest.approx(loaded.nbytes, rel=0.01)


def test_the_least_recently_used_idle_model_is_evicted_over_budget(root):
    size = one_model_bytes(root)
    cache = ModelCache(root=root, budget_bytes=int(size * 2.5))
    for name in ("a", "b"):
        cache.release(cache.acquire(name))
    cache.release(cache.acquire("a"))  # "b" is now the least recently used

    cache.release(cache.acquire("c"))

    assert cache.resident() == ["a", "c"]
    assert cache.used_bytes() <= int(size * 2.5)


def test_a_model_with_requests_in_flight_is_never_evicted(root):
    size = one_model_bytes(root)
    cache = ModelCache(root=root, budget_bytes=int(size * 1.5))
    busy = cache.acquire("a")

    other = cache.acquire("b")

    assert "a" in cache.resident()
    cache.release(busy)
    cache.release(other)
    assert cache.resident() == ["b"]


def test_a_cached_model_is_returned_without_loading_again(root):
    cache = ModelCache(root=root, budget_bytes=2**30)
    first = cache.acquire("a")
    cache.release(first)

    assert cache.acquire("a") is first


def test_concurrent_first_requests_load_the_model_once(root):
    cache = ModelCache(root=root, budget_bytes=2**30)
    results = []
    barrier = threading.Barrier(6)

    def ask():
        barrier.wait()
        results.append(cache.acquire("c"))

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 6
    assert all(result is results[0] for result in results)
    assert results[0].pins == 6


@pytest.mark.parametrize("model_dir", ["missing", "../outside", "/etc", ""])
def test_a_missing_or_escaping_model_folder_is_unavailable(root, model_dir):
    cache = ModelCache(root=root, budget_bytes=2**30)

    with pytest.raises(ModelUnavailable):
        cache.acquire(model_dir)


def test_pickle_only_folders_are_not_loaded(root, tmp_path):
    (tmp_path / "pickled").mkdir()
    (tmp_path / "pickled" / "config.json").write_text((root / "a" / "config.json").read_text())
    (tmp_path / "pickled" / "pytorch_model.bin").write_bytes(b"not loaded")

    with pytest.raises(ModelUnavailable):
        ModelCache(root=tmp_path, budget_bytes=2**30).acquire("pickled")


def test_the_cpu_runs_float32_and_a_missing_gpu_fails_loudly():
    assert select_device("cpu") == (torch.device("cpu"), torch.float32)
    if not torch.cuda.is_available():
        assert select_device("auto") == (torch.device("cpu"), torch.float32)
        with pytest.raises(RuntimeError):
            select_device("cuda")
    with pytest.raises(ValueError):
        select_device("tpu")


def test_torch_uses_the_cores_given_unless_told_otherwise():
    before = torch.get_num_threads()
    try:
        assert configure_torch_threads(0) == cores_given() == torch.get_num_threads()
        assert configure_torch_threads(1) == 1 == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def test_an_evicted_model_is_freed_after_serving_requests(root):
    size = one_model_bytes(root)
    cache = ModelCache(root=root, budget_bytes=int(size * 1.5))
    scheduler = Scheduler()
    loaded = cache.acquire("a")
    # One token: the request ends in the very step that admitted it.
    request = scheduler.submit(model=loaded, prompt_ids=[5, 6, 7] * 8, max_tokens=1, temperature=0)
    assert request.done.wait(60)
    cache.release(loaded)
    freed = weakref.ref(loaded)
    del loaded, request

    cache.release(cache.acquire("c"))
    gc.collect()

    assert cache.resident() == ["c"]
    assert freed() is None


def test_different_models_loaded_at_once_by_several_threads_all_load(root):
    # transformers builds a model on the "meta" device through process-wide state, so two
    # threads loading two models at once could leave one with no weights ("Cannot copy out
    # of meta tensor"): a threaded worker asked for two models at once answered an error.
    for _ in range(3):
        cache = ModelCache(root=root, budget_bytes=2**30)
        start = threading.Barrier(3)
        loaded, failures = {}, []

        def load(name, cache=cache, start=start, loaded=loaded, failures=failures):
            start.wait()
            try:
                loaded[name] = cache.acquire(name)
            except Exception as exc:  # noqa: BLE001 - the test reports whatever went wrong
                failures.append(f"{name}: {exc}")

        threads = [threading.Thread(target=load, args=(name,)) for name in ("a", "b", "c")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert failures == []
        for entry in loaded.values():
            assert not any(p.is_meta for p in entry.model.parameters())
