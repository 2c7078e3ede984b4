#!/usr/bin/env python3
"""Fetches a PyPI source distribution, checks its SHA-256 and unpacks it.

    fetch_sdist.py PACKAGE VERSION SHA256 DEST_DIR

Leaves DEST_DIR/PACKAGE-VERSION/ (the sdist's top folder). The file's address comes from
PyPI's JSON API (resolved against it: a mirror may answer with a relative address), because
`pip download --no-binary` would first build the package's metadata, which needs its build
dependencies. Used by cmake/xgrammar.cmake at configure time. Exits non-zero with one line on
stderr when the download fails or the hash differs.
"""
import hashlib
import json
import os
import sys
import tarfile
import tempfile
import urllib.parse
import urllib.request


def main() -> int:
    package, version, sha256, dest = sys.argv[1:5]
    api = os.environ.get("PYPI_JSON_API", "https://pypi.org/pypi") + f"/{package}/json"
    try:
        with urllib.request.urlopen(api, timeout=60) as r:
            release = json.load(r)["releases"].get(version, [])
        sdist = next(u for u in release if u["packagetype"] == "sdist")
        url = urllib.parse.urljoin(api, sdist["url"])
        with urllib.request.urlopen(url, timeout=300) as r:
            data = r.read()
    except (OSError, StopIteration, KeyError, ValueError) as e:
        print(f"fetch_sdist: cannot download {package} {version} from {api}: {e!r}", file=sys.stderr)
        return 1
    got = hashlib.sha256(data).hexdigest()
    if got != sha256:
        print(f"fetch_sdist: {package}-{version}.tar.gz has SHA-256 {got}, expected {sha256}",
              file=sys.stderr)
        return 1
    os.makedirs(dest, exist_ok=True)
    # Unpack beside DEST and rename into place, so an interrupted run never leaves half a tree.
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        path = os.path.join(tmp, "sdist.tar.gz")
        with open(path, "wb") as f:
            f.write(data)
        with tarfile.open(path) as tar:
            # The "data" filter (Python >= 3.11.4) refuses links and paths that leave TMP.
            tar.extractall(tmp, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
        top = f"{package}-{version}"
        os.replace(os.path.join(tmp, top), os.path.join(dest, top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
