"""pyproject.toml (ranges for users), requirements-lock.txt (pins for the course) and
environment.yml (conda, for Binder/JupyterHub) name the same direct dependencies, and the
lock and environment.yml pin the same versions."""

import re
from pathlib import Path

import tomllib
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
CONDA_TO_PYPI = {"pytorch": "torch"}  # conda-forge names that differ from PyPI's


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# Extras pinned in a lock of their own, not in the learners' requirements-lock.txt.
SEPARATE_LOCKS = {"classroom": "requirements-classroom.txt"}
# Packages the course does not import itself, pinned in the lock and environment.yml on purpose.
INDIRECT = {"jsonschema": "4.24 and later import rfc3987-syntax when loaded: 1 CPU second per process"}


def pyproject_deps(extras=None) -> set[str]:
    """Direct dependencies: the core and every extra that shares the main lock (or `extras`)."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    optional = data["project"].get("optional-dependencies", {})
    if extras is None:
        reqs = list(data["project"]["dependencies"])
        reqs += [r for name, extra in optional.items() if name not in SEPARATE_LOCKS for r in extra]
    else:
        reqs = [r for name in extras for r in optional[name]]
    return {norm(Requirement(r).name) for r in reqs}


def lock_pins(lock: str = "requirements-lock.txt") -> dict[str, str]:
    pins = {}
    for line in (ROOT / lock).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            req = Requirement(line)
            spec = str(req.specifier)
            assert spec.startswith("==") and "," not in spec, f"lock must pin exactly: {line!r}"
            pins[norm(req.name)] = spec[2:]
    return pins


def environment_pins() -> dict[str, str]:
    pins = {}
    text = (ROOT / "environment.yml").read_text()
    assert "\ndependencies:\n" in text, "environment.yml has no dependencies: section"
    for raw in text.split("\ndependencies:\n", 1)[1].splitlines():
        item = raw.strip()
        if not item.startswith("- ") or item.endswith(":"):
            continue
        item = item[2:].strip()
        if item in ("pip", "-e .") or item.startswith("python="):
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*(==?)\s*([0-9][^\s]*)", item)
        assert m, f"environment.yml entry must pin a version: {item!r}"
        name = norm(m.group(1))
        pins[CONDA_TO_PYPI.get(name, name)] = m.group(3)
    return pins


def test_same_direct_dependencies_everywhere():
    py, lock, env = pyproject_deps(), set(lock_pins()) - set(INDIRECT), set(environment_pins()) - set(INDIRECT)
    assert py == lock, f"pyproject vs lock: only in pyproject {py - lock}, only in lock {lock - py}"
    assert lock == env, f"lock vs environment.yml: only in lock {lock - env}, only in env {env - lock}"


def test_same_versions_in_lock_and_environment():
    lock, env = lock_pins(), environment_pins()
    diff = {k: (lock[k], env[k]) for k in lock if k in env and lock[k] != env[k]}
    assert not diff, f"versions differ (lock, environment.yml): {diff}"


def test_indirect_pins_are_in_both_and_not_direct_dependencies():
    direct = pyproject_deps() | pyproject_deps(list(SEPARATE_LOCKS))
    for name in INDIRECT:
        assert name in lock_pins() and name in environment_pins(), f"{name}: pin it in the lock and environment.yml"
        assert name not in direct, f"{name} is a direct dependency now: take it out of INDIRECT"


def test_torch_is_pinned_to_the_cpu_build_on_disk():
    assert lock_pins()["torch"] == "2.13.0"


def test_separately_locked_extras_match_their_lock():
    for extra, lock in SEPARATE_LOCKS.items():
        names, pins = pyproject_deps([extra]), lock_pins(lock)
        assert names == set(pins), f"{extra} extra vs {lock}: {names ^ set(pins)}"
        assert not names & set(lock_pins()), f"{extra} is locked twice"


def test_lock_satisfies_pyproject_ranges():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    reqs = list(data["project"]["dependencies"])
    pins = lock_pins()
    for name, extra in data["project"]["optional-dependencies"].items():
        reqs += extra
        if name in SEPARATE_LOCKS:
            pins = {**pins, **lock_pins(SEPARATE_LOCKS[name])}
    for r in map(Requirement, reqs):
        assert r.specifier.contains(pins[norm(r.name)],
                                    prereleases=True), f"{r} excludes the lock's {pins[norm(r.name)]}"


def test_ci_runs_exactly_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "exec make test" in ci
    assert "make test" in readme and "make lab" in readme
