"""What the tests of every app share; tests of one app keep their own helpers beside them.

factories.py       every factory of the suite, one per model, and the row builders
models.py          the one tiny tokenizer and the tiny model folders and GGUF built on it
servable.py        listings a worker can serve (a tiny model under MEDIA_ROOT) and access
uploads.py         draft listings and the uploads (folders, zips, tars) made to them
fine_tuning.py     training data and trainable listings
api_checks.py      what a /v1 answer says, for tests that run without a worker
processes.py       starting and stopping Celery workers, localstripe and uvicorn
launched_store.py  `make run`'s own stack, started by the suite
"""
