"""docs/BENCHMARKS.md sections that benchmarks rewrite: each from its heading down to its
end marker; hand-written notes after the marker stay."""

import os
import platform
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "docs" / "BENCHMARKS.md"


def write_section(section: str, *, heading: str, generated_end: str) -> None:
    text = BENCHMARKS.read_text()
    start = text.find(heading + "\n")
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    else:
        end = text.find(generated_end, start)
        end = end + len(generated_end) if end != -1 else len(text)
        text = text[:start] + section + text[end:]
    BENCHMARKS.write_text(text)


def publish(section: str, *, heading: str, generated_end: str, write: bool) -> None:
    """Prints the section and, unless told not to, writes it into docs/BENCHMARKS.md."""
    print(section)
    if write:
        write_section(section, heading=heading, generated_end=generated_end)
        print("Written to docs/BENCHMARKS.md")


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def machine() -> str:
    """The machine a result was measured on, as the sections say it."""
    return f"{os.cpu_count()} CPUs ({cpu_name()}), Python {platform.python_version()}"
