"""Whether every package a constraints file pins is installed at its pinned version (exit 0),
else names the first that is not (exit 1): `make`'s check before it installs tier 4's tools."""
import importlib.metadata
import sys

for line in open(sys.argv[1], encoding="utf-8"):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    name, _, version = line.partition("==")
    try:
        installed = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        installed = None
    if installed != version:
        print(f"{name}: {installed or 'not installed'}, pinned {version}", file=sys.stderr)
        sys.exit(1)
