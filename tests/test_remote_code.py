"""A publisher's upload may carry Python (an ``auto_map`` in config.json pointing at a
modeling file): no loader of ours ever runs it, nor reaches a model hub."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUR_CODE = ["accounts", "billing", "config", "inference", "store", "bench"]
LOADERS = {"from_pretrained", "from_config"}


def loader_calls():
    for folder in OUR_CODE:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in LOADERS
                ):
                    yield f"{path.relative_to(ROOT)}:{node.lineno}", node


def keyword(node: ast.Call, name: str):
    for item in node.keywords:
        if item.arg == name and isinstance(item.value, ast.Constant):
            return item.value.value
    return None


def test_every_model_loader_refuses_remote_code():
    calls = list(loader_calls())
    assert len(calls) >= 8
    assert [where for where, node in calls if keyword(node, "trust_remote_code") is not False] == []


def test_every_pretrained_loader_stays_off_the_hub():
    pretrained = [(w, n) for w, n in loader_calls() if n.func.attr == "from_pretrained"]
    assert [
        where for where, node in pretrained if keyword(node, "local_files_only") is not True
    ] == []
