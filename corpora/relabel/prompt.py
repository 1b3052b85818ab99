"""The prompt file (the system message) and the user message of one batch.

The prompt is a UTF-8 text file with ``string.Template`` placeholders: ``${classes}`` (the class
names as the paper writes them: ``'angry,' 'sad,' ... and 'happy.'``) and ``${batch_size}`` are
required, so that the model is told the label folder's classes and the number of items that
each request really holds; ``${num_classes}`` is optional. ``$$`` is a literal dollar sign.
The default, ``configs/relabel/emo_superb_prompt.txt``, is the prompt of EMO-SUPERB's Table 11
(Appendix D.1) as the paper prints it, with these placeholders where the paper has the eight
classes, "8" and "30".

The user message follows the paper's input format, ``descriptions#reference distribution``, items
separated by ``|``, each prefixed by its index in the batch (the prompt asks for "the JSON format
with index")::

    0: Concerned,Interest#0.0,0.0,0.0,0.0,0.0,1.0,0.0,0.0 | 1: Haaapy#0.0,...

>>> user_message([(0, "Concerned,Interest", [0.0, 0.25, 0.75])])
('0: Concerned,Interest#0.0,0.25,0.75', 0)
>>> user_message([(0, "a|b#c", [1.0, 0.0])])
('0: a/b/c#1.0,0.0', 1)
>>> class_list(["angry", "sad", "happy"])
"'angry,' 'sad,' and 'happy.'"
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from emobench.core.config import ConfigError

REQUIRED = ("classes", "batch_size")
OPTIONAL = ("num_classes",)
SEPARATORS = ("|", "#")  # the input format's separators: never inside a description


@dataclass(frozen=True)
class Prompt:
    path: Path
    template: str

    def render(self, classes: Sequence[str], batch_size: int) -> str:
        return string.Template(self.template).substitute(
            classes=class_list(classes), batch_size=batch_size, num_classes=len(classes))


def class_list(classes: Sequence[str]) -> str:
    quoted = [f"'{c},'" for c in classes[:-1]]
    return " ".join(quoted) + f" and '{classes[-1]}.'"


def load_prompt(path: str | Path) -> Prompt:
    """Read and check a prompt file: every required placeholder present, no unknown one."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"prompt file {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"prompt file {path} is not UTF-8 text ({exc})") from None
    template = string.Template(text)
    if not template.is_valid():
        raise ConfigError(f"prompt file {path}: a '$' that starts no placeholder (write $$ for a "
                          f"literal dollar sign; placeholders: ${{{'}, ${'.join(REQUIRED)}}})")
    found = set(template.get_identifiers())
    missing = [name for name in REQUIRED if name not in found]
    unknown = sorted(found - set(REQUIRED) - set(OPTIONAL))
    problems = []
    if missing:
        problems.append("it lacks the required placeholder(s) "
                        + ", ".join("${" + m + "}" for m in missing))
    if unknown:
        problems.append("unknown placeholder(s) " + ", ".join("${" + u + "}" for u in unknown)
                        + f" (known: {', '.join(REQUIRED + OPTIONAL)})")
    if problems:
        raise ConfigError(f"prompt file {path}: " + "; ".join(problems))
    return Prompt(path, text)


def _number(value: float) -> str:
    return repr(round(float(value), 4))


def user_message(items: Sequence[tuple[int, str, Sequence[float]]]) -> tuple[str, int]:
    """The batch as one line, and how many descriptions had a separator replaced by ``/``."""
    parts, replaced = [], 0
    for index, words, reference in items:
        text = " ".join(str(words).split())
        clean = text
        for sep in SEPARATORS:
            clean = clean.replace(sep, "/")
        replaced += clean != text
        parts.append(f"{index}: {clean}#{','.join(_number(v) for v in reference)}")
    return " | ".join(parts), replaced
