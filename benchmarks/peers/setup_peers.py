"""Create benchmarks/.venv-peers and install the pinned peers into it (never into the project's environment).

    python benchmarks/peers/setup_peers.py [--force]

Idempotent: when every pin of requirements.txt is already installed at its version, it does nothing (about a
second). Extra pip arguments (e.g. another index for the PyTorch CPU wheel) come from the PEER_PIP_ARGS variable.
A fresh install takes about 2 minutes here and about 1.9 GB of disk (PyTorch is most of it).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE / "requirements.txt"
VENV = HERE.parent / ".venv-peers"
# the distributions whose versions go into the benchmark's table (besides the pins)
REPORTED = ("stable-baselines3", "sbx-rl", "rejax", "torch", "jax", "jaxlib", "flax", "optax", "gymnasium", "gymnax",
            "numpy")


def venv_python(root: Path = VENV) -> Path:
    return root / "bin" / "python"


def pins(path: Path = REQUIREMENTS) -> dict[str, str]:
    """name -> exact version from the ``name[extras]==version`` lines (comments and unpinned lines skipped)."""
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" not in line:
            continue
        name, version = line.split("==", 1)
        out[name.split("[", 1)[0].strip().lower()] = version.strip()
    return out


_VERSIONS_SCRIPT = """
import json, sys
from importlib.metadata import version, PackageNotFoundError
out = {}
for name in sys.argv[1:]:
    try:
        out[name] = version(name)
    except PackageNotFoundError:
        out[name] = None
print(json.dumps(out))
"""


def installed_versions(names, root: Path = VENV) -> dict[str, str | None]:
    """Versions of ``names`` inside the peer venv (None where missing); {} when the venv does not exist."""
    python = venv_python(root)
    if not python.exists():
        return {}
    proc = subprocess.run([str(python), "-c", _VERSIONS_SCRIPT, *names], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


def missing_pins(root: Path = VENV) -> dict[str, tuple[str, str | None]]:
    """name -> (pinned, installed) for every pin not satisfied in the venv."""
    wanted = pins()
    have = installed_versions(list(wanted), root)
    return {name: (version, have.get(name)) for name, version in wanted.items() if have.get(name) != version}


def ensure_peers(force: bool = False, quiet: bool = False) -> Path:
    """Make sure the peer venv exists with every pin installed; return its Python."""
    log = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    if not force and VENV.exists() and not missing_pins():
        log(f"peers: {VENV} is up to date")
        return venv_python()
    if not VENV.exists():
        log(f"peers: creating {VENV}")
        venv.EnvBuilder(with_pip=True).create(VENV)
    missing = missing_pins()
    log("peers: installing " + ", ".join(f"{n}=={v}" for n, (v, _) in missing.items()) + " (about 2 minutes)")
    extra = shlex.split(os.environ.get("PEER_PIP_ARGS", ""))
    subprocess.run([str(venv_python()), "-m", "pip", "install", "--disable-pip-version-check", "-q",
                    "-r", str(REQUIREMENTS), *extra], check=True)
    still = missing_pins()
    if still:
        raise SystemExit(f"peers: still not at the pinned versions after install: {still}")
    return venv_python()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--force", action="store_true", help="run pip install even if every pin is satisfied")
    args = parser.parse_args()
    python = ensure_peers(force=args.force)
    print(json.dumps(installed_versions(REPORTED)), file=sys.stderr)
    print(python)


if __name__ == "__main__":
    main()
