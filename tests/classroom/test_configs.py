"""The two hub configurations (one machine, Kubernetes) agree on what a learner gets, and the
nbgitpuller link is well formed. Runs in any environment (PyYAML is needed for the chart
values; it comes with JupyterLab)."""

import json
import re
import urllib.parse

import pytest
from helpers import ROOT

from course_utils.course import classroom

yaml = pytest.importorskip("yaml")


def _hub_config_defaults() -> dict:
    text = (ROOT / "classroom/jupyterhub_config.py").read_text()
    mem = re.search(r'COURSE_MEM_LIMIT", "([^"]+)"', text).group(1)
    cpu = float(re.search(r'COURSE_CPU_LIMIT", "([^"]+)"', text).group(1))
    idle = int(re.search(r'COURSE_IDLE_TIMEOUT", "([^"]+)"', text).group(1))
    return {"mem": mem, "cpu": cpu, "idle": idle}


def test_one_machine_and_kubernetes_agree():
    values = yaml.safe_load((ROOT / "classroom/z2jh-config.yaml").read_text())
    hub = _hub_config_defaults()
    single = values["singleuser"]
    assert single["memory"]["limit"] == hub["mem"]
    assert float(single["cpu"]["limit"]) == hub["cpu"]
    assert values["cull"]["enabled"] is True and values["cull"]["timeout"] == hub["idle"]
    assert single["extraEnv"]["OMP_NUM_THREADS"] == "1"
    assert single["defaultUrl"] == "/lab"


def test_nbgitpuller_link():
    link = classroom.nbgitpuller_link("https://hub.example.edu/", "https://git.example.edu/course.git")
    assert link.startswith("https://hub.example.edu/hub/user-redirect/git-pull?")
    query = urllib.parse.parse_qs(urllib.parse.urlparse(link).query)
    assert query["repo"] == ["https://git.example.edu/course.git"]
    assert query["targetpath"] == ["attention-course"]
    assert query["urlpath"] == ["lab/tree/attention-course/notebooks/00_welcome.ipynb"]
    with pytest.raises(classroom.ClassroomError, match="http"):
        classroom.nbgitpuller_link("hub.example.edu", "x")


def test_course_classroom_command(capsys, tmp_path):
    from course_utils.course import cli

    assert cli.main(["classroom", "link", "--hub", "https://hub.example.edu", "--repo", "https://x/c.git"]) == 0
    assert capsys.readouterr().out.startswith("https://hub.example.edu/hub/user-redirect/git-pull?")
    with pytest.raises(SystemExit) as exit_:
        cli.main(["classroom", "link", "--hub", "hub.example.edu", "--repo", "x"])
    assert exit_.value.code == 2 and "http" in capsys.readouterr().err
    assert cli.main(["classroom", "nbgrader", str(tmp_path / "grading"), "--lessons", "01"]) == 0
    assert (tmp_path / "grading/source/lesson01/01_attention_intuition.ipynb").is_file()


# ----------------------------------------------------------------------------- Kubernetes: the image and the chart

def _dockerfile() -> list[tuple[str, str]]:
    """classroom/Dockerfile as (INSTRUCTION, arguments), continuation lines joined, ARGs expanded."""
    text = (ROOT / "classroom/Dockerfile").read_text()
    lines, current = [], ""
    for raw in text.splitlines():
        if raw.lstrip().startswith("#") or not raw.strip():
            continue
        current += raw.rstrip("\\").strip() + " "
        if not raw.rstrip().endswith("\\"):
            lines.append(current.strip())
            current = ""
    args = {}
    out = []
    for line in lines:
        word, _, rest = line.partition(" ")
        rest = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), rest)
        if word == "ARG":
            name, _, default = rest.partition("=")
            args[name] = default
        out.append((word, rest))
    return out


def _values() -> dict:
    return yaml.safe_load((ROOT / "classroom/z2jh-config.yaml").read_text())


def test_image_recipe_and_chart_values_agree():
    steps = _dockerfile()
    values = _values()
    single = values["singleuser"]
    args = dict(rest.split("=", 1) for word, rest in steps if word == "ARG")
    # the account: the one the chart runs servers as, home at /home/jovyan
    assert int(args["NB_UID"]) == single["uid"] and int(args["NB_GID"]) == single["fsGid"]
    home = f"/home/{args['NB_USER']}"
    assert ("WORKDIR", home) in steps
    # the course package and the environment are installed outside the home folder, which the
    # chart hides behind each learner's volume
    copies = [rest.split()[-1] for word, rest in steps if word == "COPY"]
    installs = re.findall(r"pip install [^&]*?-e (\S+)", " ".join(rest for word, rest in steps if word == "RUN"))
    assert installs and copies
    for path in copies + installs:
        assert home not in path, f"the image puts {path} under {home}, which the home volume hides"
    assert "COPY . /opt/attention-course" in [f"{w} {r}" for w, r in steps] and installs == ["/opt/attention-course"]
    for word, rest in steps:
        if word == "COPY" and not rest.startswith(". "):
            for source in rest.split()[:-1]:
                assert (ROOT / source).is_file(), f"the Dockerfile copies {source}, which is not in the repository"
    # the command the chart starts is the image's, and it is installed (requirements-classroom.txt)
    (cmd,) = [json.loads(rest) for word, rest in steps if word == "CMD"]
    assert cmd == [single["cmd"]] == ["jupyterhub-singleuser"]
    assert re.search(r"^jupyterhub==", (ROOT / "requirements-classroom.txt").read_text(), re.M)
    assert "requirements-classroom.txt" in " ".join(rest for word, rest in steps if word == "RUN")
    # one thread, in the image and in the chart
    env = " ".join(rest for word, rest in steps if word == "ENV")
    assert "OMP_NUM_THREADS=1" in env and single["extraEnv"]["OMP_NUM_THREADS"] == "1"
    # the image name: the one both files' build lines tag and push
    image = f"{single['image']['name']}:{single['image']['tag']}"
    for name in ("classroom/Dockerfile", "classroom/z2jh-config.yaml"):
        built = re.findall(r"docker build -f (\S+) -t (\S+) \.", (ROOT / name).read_text())
        assert built == [("classroom/Dockerfile", image)], (name, built)
    # what the build leaves out (the local environments are large and machine-specific)
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", ".venv-classroom", ".classroom-node"} <= set(ignored)


class _Spawner:
    def __init__(self, name, admin):
        self.user = type("User", (), {"name": name, "admin": admin})()
        self.image = "REGISTRY/attention-course:TAG"
        self.volume_mounts, self.init_containers = [], []


def _progress_hook():
    values = _values()
    config = type("Config", (), {})()
    config.KubeSpawner = type("KubeSpawner", (), {})()
    exec(values["hub"]["extraConfig"]["course-progress"], {"c": config})
    return config.KubeSpawner.pre_spawn_hook, values


def test_progress_volume_per_learner_and_for_the_instructor(tmp_path, monkeypatch):
    """The chart's hook gives each learner their own folder of the progress volume where
    COURSE_PROGRESS_FILE points, and instructors the whole volume read-only, where
    `course classroom progress --collected` reads it (as docs/TEACHING.md says)."""
    hook, values = _progress_hook()
    single = values["singleuser"]
    progress_file = single["extraEnv"]["COURSE_PROGRESS_FILE"]
    volumes = {v["name"]: v for v in single["storage"]["extraVolumes"]}
    claim = yaml.safe_load((ROOT / "classroom/z2jh-progress-volume.yaml").read_text())
    assert claim["kind"] == "PersistentVolumeClaim" and claim["spec"]["accessModes"] == ["ReadWriteMany"]

    learner = _Spawner("ada", admin=False)
    hook(learner)
    (mount,) = learner.volume_mounts
    assert mount == {"name": "course-progress", "mountPath": progress_file.rsplit("/", 1)[0], "subPath": "ada"}
    assert volumes[mount["name"]]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    (init,) = learner.init_containers
    assert init["volumeMounts"][0]["name"] == mount["name"] and init["image"] == learner.image
    assert init["command"][-1] == "ada" and f"{single['uid']}:{single['fsGid']}" in init["command"][2]
    assert not progress_file.startswith("/home/")

    teacher = _Spawner("teach", admin=True)
    hook(teacher)
    whole = [m for m in teacher.volume_mounts if "subPath" not in m]
    assert whole == [{"name": "course-progress", "mountPath": "/srv/class-progress", "readOnly": True}]
    assert "course classroom progress --collected /srv/class-progress" in (ROOT / "docs/TEACHING.md").read_text()

    # the volume as the instructor sees it: what a learner's check wrote through
    # COURSE_PROGRESS_FILE is in <volume>/<learner>/progress.json
    from course_utils.course import class_progress, progress

    volume = tmp_path / "volume"
    monkeypatch.setenv("COURSE_PROGRESS_FILE", str(volume / mount["subPath"] / "progress.json"))
    progress.save_result("01.weighted_sum", "passed")
    (ada,) = class_progress.read_class(volume, collected=True)
    assert ada.name == "ada" and ada.lessons["01"]["passed"] == 1
