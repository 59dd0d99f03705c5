"""Where the files shipped beside the code are: `migrations/` and `hooks/`.

In a source checkout or an editable install they are top-level folders next to the
package; a wheel carries them inside the package as `_migrations` and `_hooks` (see
pyproject).
"""

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """The shipped folder `name` ("migrations", "hooks"), wherever this install put it."""
    for candidate in (_PACKAGE / f"_{name}", _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"commit-indexer is installed without its {name}/ folder")
