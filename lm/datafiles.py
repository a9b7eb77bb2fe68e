"""Where the fixed input files live (GPT-2 vocab, TinyStories, corpora, GSM8K).

One setting, `LM_DATA_DIR`, names the folder. Unset, it is `../shared/data` beside the repo when
that exists, else a per-user cache that `python -m lm.datafiles fetch` fills from public sources.
"""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parent.parent
_SHARED = _REPO_ROOT.parent / "shared" / "data"


def user_cache_dir(name: str) -> Path:
    """$XDG_CACHE_HOME/execlecture/NAME, by default ~/.cache/execlecture/NAME: per-user files."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "execlecture" / name


_CACHE = user_cache_dir("data")

# Public sources of files a fresh machine can fetch (when online); the rest come with the course.
PUBLIC_SOURCES = {
    "gpt2_vocab.json": "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/encoder.json",
    "gpt2_merges.txt": "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/vocab.bpe",
    "gsm8k_test.jsonl": "https://raw.githubusercontent.com/openai/grade-school-math/master/grade_school_math/data/test.jsonl",
}


def data_dir() -> Path:
    """The data folder: $LM_DATA_DIR, else ../shared/data when present, else the user cache."""
    env = os.environ.get("LM_DATA_DIR")
    if env:
        return Path(env)
    return _SHARED if _SHARED.is_dir() else _CACHE


def data_path(name: str) -> Path:
    """Path of data file `name`; FileNotFoundError says where it looked and how to get the file."""
    path = data_dir() / name
    if not path.exists():
        how = (
            f"run `python -m lm.datafiles fetch` (downloads {PUBLIC_SOURCES[name]})"
            if name in PUBLIC_SOURCES
            else "copy it there from the course's shared data (see ../shared/data/SOURCES.md)"
        )
        raise FileNotFoundError(
            f"data file {name!r} not found at {path} "
            f"(set LM_DATA_DIR to the folder holding it, or {how})"
        )
    return path


def fetch(names: list[str] | None = None) -> list[Path]:
    """Download the public files into the data folder (atomically); returns the paths written."""
    target = data_dir()
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names or sorted(PUBLIC_SOURCES):
        dest = target / name
        if dest.exists():
            continue
        tmp = dest.with_suffix(dest.suffix + ".part")
        urllib.request.urlretrieve(PUBLIC_SOURCES[name], tmp)  # noqa: S310 - fixed https URLs
        tmp.replace(dest)
        written.append(dest)
    return written


def main() -> None:
    """CLI: `python -m lm.datafiles [where|fetch]`."""
    import sys

    command = sys.argv[1] if len(sys.argv) > 1 else "where"
    if command == "where":
        sys.stdout.write(f"{data_dir()}\n")
    elif command == "fetch":
        for path in fetch():
            sys.stdout.write(f"wrote {path}\n")
    else:
        raise SystemExit(f"unknown command {command!r} (expected 'where' or 'fetch')")


if __name__ == "__main__":
    main()
