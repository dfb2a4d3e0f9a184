"""Loading a causal language model with transformers: one place, for the engine, the
fine-tuning trainer, the upload smoke test and the GGUF conversion.

- Never from a hub and never with the folder's own code (``local_files_only``,
  ``trust_remote_code=False``): a publisher's upload is data, not a program.
- One load at a time in a process. transformers builds a model on the "meta" device through
  process-wide state, so two threads loading two models at once (a threaded worker asked
  for two models, or a training job and an answer in one test worker) could leave one
  model's weights on "meta" and fail ("Cannot copy out of meta tensor").
  tests/inference/test_engine_model_cache.py loads three models from three threads.
"""

import threading

_loading = threading.Lock()


def causal_lm_from_pretrained(path, **options):
    """``AutoModelForCausalLM.from_pretrained(path, **options)``, local and code-free,
    serialised with every other load of this process."""
    # Imported here: the web process imports this module and must not load transformers.
    from transformers import AutoModelForCausalLM

    with _loading:
        return AutoModelForCausalLM.from_pretrained(
            str(path), local_files_only=True, trust_remote_code=False, **options
        )
