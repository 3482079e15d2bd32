"""Render the jinja templates in `templates/` (shipped inside the wheel, or beside a clone)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

_PACKAGE_DIR = Path(__file__).resolve().parent.parent
# A wheel maps the repository's top-level templates/ into the package; a clone has it one level up.
_CANDIDATES = (_PACKAGE_DIR / "templates", _PACKAGE_DIR.parent / "templates")


def template_dir() -> Path:
    for candidate in _CANDIDATES:
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("templates/ not found beside the docker_vpn_helper package")


@cache
def _environment():  # jinja2 is imported lazily: `env.print` start-up time matters
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(name: str, **context: Any) -> str:
    """Render `templates/<name>` with `context`; missing variables are errors, not blanks."""
    return _environment().get_template(name).render(**context)
