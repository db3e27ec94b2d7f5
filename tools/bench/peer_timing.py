"""Timing loop shared by the PyTorch peer scripts, so both peers measure the same way."""
import time


def time_ms(fn, warmup, runs):
    """Wall milliseconds of `runs` calls of fn after `warmup` unmeasured ones."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000.0)
    return samples
