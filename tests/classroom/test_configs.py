"""The two hub configurations (one machine, Kubernetes) agree on what a learner gets, and the
nbgitpuller link is well formed. Runs in any environment (PyYAML is needed for the chart
values; it comes with JupyterLab)."""

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
