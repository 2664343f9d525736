"""The README's example runs as written and its counts obey dopri5's accounting."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs():
    code = re.search(r"## Ten lines.*?```python\n(.*?)```", README.read_text(), re.S).group(1)
    namespace: dict = {}
    exec(compile(code, str(README), "exec"), namespace)
    stats = namespace["block"].stats
    assert namespace["h1"].shape == (32, 16)
    assert stats.nfe_forward == 2 + 6 * stats.steps_forward and stats.nfe_backward > 0
