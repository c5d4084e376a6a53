"""`course classroom link`: the nbgitpuller link an instructor hands out. Empty or broken
arguments are refused with a message naming the argument, never printed as a broken link."""

import urllib.parse

import pytest

from course_utils.course.classroom import ClassroomError, main, nbgitpuller_link

REPO = "https://example.org/attention-course.git"


def test_the_link_clones_the_repository_and_opens_lesson_00():
    link = nbgitpuller_link("https://hub.example.edu/", REPO)
    url = urllib.parse.urlsplit(link)
    assert (url.scheme, url.netloc, url.path) == ("https", "hub.example.edu", "/hub/user-redirect/git-pull")
    query = dict(urllib.parse.parse_qsl(url.query))
    assert query == {"repo": REPO, "branch": "main", "targetpath": "attention-course",
                     "urlpath": "lab/tree/attention-course/notebooks/00_welcome.ipynb"}


@pytest.mark.parametrize("hub, repo, extra, named", [
    ("https://", REPO, {}, "hub URL"),
    ("hub.example.edu", REPO, {}, "hub URL"),
    ("ftp://hub.example.edu", REPO, {}, "hub URL"),
    ("https://hub.example.edu", "", {}, "--repo"),
    ("https://hub.example.edu", "   ", {}, "--repo"),
    ("https://hub.example.edu", REPO, {"branch": ""}, "--branch"),
    ("https://hub.example.edu", REPO, {"open_path": "../../etc/passwd"}, "--open"),
    ("https://hub.example.edu", REPO, {"open_path": "/etc/passwd"}, "--open"),
])
def test_a_broken_argument_is_named_not_printed_as_a_link(hub, repo, extra, named):
    with pytest.raises(ClassroomError, match=named):
        nbgitpuller_link(hub, repo, **extra)


def test_the_command_exits_2_with_one_line_and_prints_no_link(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["link", "--hub", "https://hub.example.edu", "--repo", ""])
    assert stop.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and "--repo is empty" in err and "Traceback" not in err
