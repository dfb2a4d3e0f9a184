"""The inference engine of a worker process: model cache, batching scheduler, sampling,
stop strings and detokenization. ``process_engine()`` returns this process's engine."""

from inference.engine.runtime import Engine, process_engine

__all__ = ["Engine", "process_engine"]
