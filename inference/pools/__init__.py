"""Worker pools: which Celery queue serves which model, on which kind of device, and whether
through the built-in engine or an OpenAI-compatible upstream server (vLLM, llama.cpp, …).

models.py holds WorkerPool; placement.py picks the queue of a request (web side);
warmup.py loads a pool's models when its worker starts, and upstream.py relays a request to
an upstream server (worker side).
"""
