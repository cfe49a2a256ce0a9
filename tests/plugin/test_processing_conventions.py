"""Every algorithm of the provider follows QGIS's Processing conventions: a group, a short description, a
help address that lands on its own section of docs/plugin.md, and help text for each parameter."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs" / "plugin.md"


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_every_algorithm_documents_itself(flair_provider):
    anchors = {
        github_anchor(line[3:])
        for line in DOCS.read_text(encoding="utf-8").splitlines()
        if line.startswith("## ")
    }
    algorithms = flair_provider.algorithms()
    assert len(algorithms) == 7
    for algorithm in algorithms:
        name = algorithm.name()
        assert algorithm.group() and algorithm.groupId(), name
        assert algorithm.shortDescription().endswith("."), name
        url = algorithm.helpUrl()
        assert url.startswith("https://") and url.split("#", 1)[1] in anchors, (name, url)
        missing = [p.name() for p in algorithm.parameterDefinitions() if not p.help()]
        assert not missing, f"{name}: parameters without help: {missing}"
