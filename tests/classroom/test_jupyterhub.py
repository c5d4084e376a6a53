"""A real JupyterHub from classroom/jupyterhub_config.py, set up as docs/TEACHING.md says: learners
are real Unix accounts whose home folders the others cannot read (chmod 700), each server runs
as its learner, the course is handed out with an nbgitpuller link from a git repository owned by
root (allowed with git's safe.directory), and nbgrader's exchange carries an assignment to a
learner and her submission back. One learner passes an exercise; the other can read neither her
answers nor her submission; the instructor sees both with `course classroom progress`; the
hub's state is written outside the folder it was started from. Only the login (a test
authenticator), the place of the homes and the configuration paths are test-specific.

Needs root (to create the learners' accounts): elsewhere it is skipped.
"""

from __future__ import annotations

import asyncio
import csv
import datetime
import io
import json
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from pathlib import Path

import pytest
from helpers import ROOT, missing_tool, need, run

WHY = "the classroom tools are not installed here: run `bash scripts/test_classroom.sh`"
requests = need("requests", WHY)
need("jupyterhub", WHY)
need("nbgitpuller", WHY)
need("jupyterhub_idle_culler", WHY)
need("nbgrader", WHY)
from tornado.httpclient import HTTPRequest  # noqa: E402
from tornado.websocket import websocket_connect  # noqa: E402

from course_utils.course import classroom  # noqa: E402

if os.geteuid() != 0 or not shutil.which("useradd"):
    pytest.skip("the hub test creates learners' Unix accounts: run it as root (scripts/test_classroom.sh in CI)",
                allow_module_level=True)

TOKEN = uuid.uuid4().hex
SUFFIX = uuid.uuid4().hex[:6]
LEARNERS = (f"alice-{SUFFIX}", f"bob-{SUFFIX}")
ALICE, BOB = LEARNERS
GRADER = f"grader-{SUFFIX}"  # owns the nbgrader folder, releases and collects (docs/TEACHING.md 1.3)
COURSE = classroom.COURSE_ID


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _proxy_command() -> str:
    found = shutil.which("configurable-http-proxy") or shutil.which(
        "configurable-http-proxy", path=str(ROOT / ".classroom-node/node_modules/.bin"))
    if not found:
        missing_tool("configurable-http-proxy (npm) is not installed: run `bash scripts/test_classroom.sh`")
    return found


def _stop_processes_of(user: str) -> None:
    import psutil

    uid = pwd.getpwnam(user).pw_uid
    for p in psutil.process_iter(["uids"]):
        if p.info["uids"] and p.info["uids"].real == uid:
            try:
                p.kill()
            except psutil.Error:
                pass


def _make_learner(name: str, home: Path) -> None:
    """A learner's account as docs/TEACHING.md makes it: a home folder only they can open."""
    run(["useradd", "--create-home", "--home-dir", str(home), "--shell", "/bin/bash", "--user-group", name],
        cwd="/")
    home.chmod(0o700)


@pytest.fixture(scope="module")
def hub():
    # Not under pytest's temporary folder (root's, closed to others): learners must reach the
    # repository, the exchange and the configuration, as they reach /srv on a real machine.
    base = Path(tempfile.mkdtemp(prefix="course-hub-"))
    base.chmod(0o755)
    made = []
    proc = log = None
    try:
        for user in (*LEARNERS, GRADER):
            _make_learner(user, base / "home" / user)
            made.append(user)
        port, hub_port, api_port = _free_port(), _free_port(), _free_port()
        (base / "learners.txt").write_text("\n".join(LEARNERS) + "\n")
        # the course's repository, owned by root: learners' git refuses it unless it is a safe.directory
        repo = base / "attention-course.git"
        run(["git", "clone", "--quiet", "--bare", str(ROOT), str(repo)], cwd=base)
        (base / "gitconfig").write_text(f"[safe]\n\tdirectory = {repo}\n")  # = git config --system --add ...
        # nbgrader's exchange and the learners' nbgrader configuration (/etc/jupyter on a real machine)
        exchange = base / "exchange"
        exchange.mkdir()
        exchange.chmod(0o1777)  # as docs/TEACHING.md 1.5
        (base / "etc-jupyter").mkdir()
        (base / "etc-jupyter" / "nbgrader_config.py").write_text(
            f"c = get_config()\nc.Exchange.root = {str(exchange)!r}\nc.CourseDirectory.course_id = {COURSE!r}\n")
        (base / "cwd").mkdir()
        config = base / "test_config.py"
        config.write_text(f"""
load_subconfig({str(ROOT / 'classroom' / 'jupyterhub_config.py')!r})
c = get_config()
# test-only: a password login instead of the machine's accounts (PAM); the spawner is the
# default one, which starts each server as its learner's Unix account in their home folder
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {uuid.uuid4().hex!r}
c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.ConfigurableHTTPProxy.command = [{_proxy_command()!r}]
c.Spawner.environment.update({{"GIT_CONFIG_SYSTEM": {str(base / 'gitconfig')!r},
                               "JUPYTER_CONFIG_PATH": {str(base / 'etc-jupyter')!r}}})
c.JupyterHub.services.append({{"name": "test-admin", "api_token": {TOKEN!r}}})
c.JupyterHub.load_roles.append({{"name": "test-admin", "services": ["test-admin"],
    "scopes": ["admin:users", "admin:servers", "tokens", "access:servers", "list:services", "read:services"]}})
""")
        env = {**os.environ, "COURSE_LEARNERS": str(base / "learners.txt"), "COURSE_HUB_STATE": str(base / "state"),
               "OMP_NUM_THREADS": "1"}
        env.pop("COURSE_NO_PROGRESS", None)
        log = open(base / "hub.log", "w")
        proc = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(config)], cwd=base / "cwd", env=env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 120
        while True:
            try:
                if requests.get(f"{url}/hub/api", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                raise AssertionError("JupyterHub did not start:\n" + (base / "hub.log").read_text()[-4000:])
            time.sleep(0.1)
        yield {"base": url, "tmp": base, "log": base / "hub.log", "repo": repo, "exchange": exchange}
    finally:
        # The learners' servers and kernels are this test's own: stopped at once (stopping them the
        # hub's way asks every kernel to shut down and waits for it, seconds each), then the hub.
        for user in made:
            _stop_processes_of(user)
        if proc is not None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        if log is not None:
            log.close()
        removing = []
        for user in made:  # whatever the hub started meanwhile, then the accounts and their homes, together
            _stop_processes_of(user)
            removing.append(subprocess.Popen(["userdel", "--remove", user], stdout=subprocess.DEVNULL,
                                             stderr=subprocess.DEVNULL))
        for removal in removing:
            removal.wait()
        shutil.rmtree(base, ignore_errors=True)


def _api(hub, method, path, token=TOKEN, **kwargs):
    return requests.request(method, f"{hub['base']}{path}", headers={"Authorization": f"token {token}"},
                            timeout=60, **kwargs)


def _start_servers(hub, users):
    """Start the learners' servers, all at once (a class logging in), and wait for each one's
    progress stream (the hub's own event stream, as its spawn page shows it) to say it is ready."""
    for user in users:
        r = _api(hub, "POST", f"/hub/api/users/{user}/server")
        assert r.status_code in (201, 202), r.text
    for user in users:
        r = _api(hub, "GET", f"/hub/api/users/{user}/server/progress", stream=True)
        assert r.status_code == 200, r.text
        events = []
        for line in r.iter_lines(decode_unicode=True):  # ends with the spawn: ready, or failed
            if line.startswith("data:"):
                events.append(json.loads(line[5:]))
        model = _api(hub, "GET", f"/hub/api/users/{user}").json()
        assert events and events[-1].get("ready") and model.get("servers", {}).get("", {}).get("ready"), \
            f"{user}'s server did not start: {events[-3:]}\n" + hub["log"].read_text()[-4000:]


def _git_pull(hub, user, token, repo, branch):
    """What clicking the nbgitpuller link does: clone the course into ~/attention-course."""
    query = urllib.parse.urlencode({"repo": repo, "branch": branch, "targetpath": "attention-course"})
    r = _api(hub, "GET", f"/user/{user}/git-pull/api?{query}", token=token, stream=True)
    assert r.status_code == 200, r.text
    events = [json.loads(line[5:]) for line in r.iter_lines(decode_unicode=True) if line.startswith("data:")]
    assert events and events[-1]["phase"] == "finished", events[-3:]


async def _execute(ws_url, token, code, timeout=300):
    conn = await websocket_connect(HTTPRequest(ws_url, headers={"Authorization": f"token {token}"}))
    msg_id = uuid.uuid4().hex
    await conn.write_message(json.dumps({
        "header": {"msg_id": msg_id, "username": "test", "session": uuid.uuid4().hex, "msg_type": "execute_request",
                   "version": "5.3", "date": datetime.datetime.now(datetime.timezone.utc).isoformat()},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True}}))
    reply, idle, errors, text = None, False, [], []
    end = time.time() + timeout
    while not (reply and idle):
        raw = await asyncio.wait_for(conn.read_message(), timeout=max(1, end - time.time()))
        assert raw is not None, "the kernel's websocket closed"
        if isinstance(raw, bytes):  # a message with binary buffers (widget state): not ours to read
            continue
        msg = json.loads(raw)
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind = msg["msg_type"]
        if kind == "execute_reply":
            reply = msg["content"]
        elif kind == "status" and msg["content"]["execution_state"] == "idle":
            idle = True
        elif kind == "error":
            errors.append(f"{msg['content']['ename']}: {msg['content']['evalue']}")
        elif kind == "stream":
            text.append(msg["content"]["text"])
    conn.close()
    return reply["status"], errors, "".join(text)


def _session_kernel(hub, user, token, path):
    """A kernel for `path` as JupyterLab opens a notebook (a session: the kernel knows its notebook,
    so the course records progress from it); returns its websocket URL."""
    r = _api(hub, "POST", f"/user/{user}/api/sessions", token=token,
             json={"path": path, "name": Path(path).name, "type": "notebook", "kernel": {"name": "python3"}})
    assert r.status_code == 201, r.text
    return hub["base"].replace("http", "ws", 1) + f"/user/{user}/api/kernels/{r.json()['kernel']['id']}/channels"


def _nbgrader(hub, user, token, action, assignment):
    """What the Assignments tab of a learner's JupyterLab does (nbgrader's server extension)."""
    r = _api(hub, "POST", f"/user/{user}/assignments/{action}", token=token,
             data={"course_id": COURSE, "assignment_id": assignment})
    assert r.status_code == 200, r.text
    return r.json()


def test_learners_apart_progress_and_exchange(hub):
    base, home = hub["tmp"], hub["tmp"] / "home"
    for user in LEARNERS:
        assert stat.S_IMODE((home / user).stat().st_mode) == 0o700
        assert (home / user).stat().st_uid == pwd.getpwnam(user).pw_uid
    # git refuses a repository another account owns unless it is a safe.directory (why
    # docs/TEACHING.md says `git config --system --add safe.directory`)
    refused = subprocess.run(["runuser", "-u", ALICE, "--", "git", "clone", "--quiet", str(hub["repo"]),
                              str(home / ALICE / "probe")], capture_output=True, text=True, cwd="/")
    assert refused.returncode != 0 and "dubious ownership" in refused.stderr, refused.stderr

    branch = subprocess.run(["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip() or "main"
    link = classroom.nbgitpuller_link(hub["base"], str(hub["repo"]), branch=branch)
    assert link.startswith(f"{hub['base']}/hub/user-redirect/git-pull?") and "targetpath=attention-course" in link
    r = _api(hub, "POST", "/hub/api/users", json={"usernames": list(LEARNERS)})
    assert r.status_code in (201, 409), r.text
    tokens = {}
    _start_servers(hub, LEARNERS)
    for user in LEARNERS:
        r = _api(hub, "POST", f"/hub/api/users/{user}/tokens", json={"note": "test", "expires_in": 3600})
        assert r.status_code == 201, r.text
        tokens[user] = r.json()["token"]
        _git_pull(hub, user, tokens[user], str(hub["repo"]), branch)
        lesson = home / user / "attention-course" / "notebooks" / "01_attention_intuition.ipynb"
        assert lesson.is_file() and lesson.stat().st_uid == pwd.getpwnam(user).pw_uid  # cloned as the learner
    assert "idle-culler" in _api(hub, "GET", "/hub/api/services").json()
    # the hub's state is in its state folder, closed to others, and nothing was written where it started
    state = base / "state"
    assert (state / "jupyterhub.sqlite").is_file() and (state / "jupyterhub_cookie_secret").is_file()
    assert stat.S_IMODE(state.stat().st_mode) == 0o700 and not list((base / "cwd").iterdir())

    # alice passes an exercise in her exercise notebook, in her own kernel (running as her)
    ws = _session_kernel(hub, ALICE, tokens[ALICE], "attention-course/exercises/01_attention_intuition.ipynb")
    status, errors, out = asyncio.run(_execute(ws, tokens[ALICE], (
        "import os, getpass\nprint(getpass.getuser())\n"
        "from course_utils.course.checks import check\n"
        "print(check('01.weighted_sum', lambda weights, values: weights @ values).status)")))
    assert status == "ok" and not errors and out.split() == [ALICE, "passed"], (errors, out)
    alice_progress = home / ALICE / "attention-course/.course/progress.json"
    assert json.loads(alice_progress.read_text())["exercises"]["01.weighted_sum"]["status"] == "passed"

    # nbgrader's exchange: the grader account releases lesson 01; alice fetches it and submits
    # from JupyterLab's Assignments tab; the grader collects it
    grading = home / GRADER / "grading"
    classroom.write_nbgrader_course(grading, lessons=["01"])
    with open(grading / "nbgrader_config.py", "a") as f:
        f.write(f"c.Exchange.root = {str(hub['exchange'])!r}\n")
    shutil.chown(grading, GRADER, GRADER)
    for folder, dirs, files in os.walk(grading):
        for name in dirs + files:
            shutil.chown(os.path.join(folder, name), GRADER, GRADER)
    bin_dir = Path(sys.executable).parent
    as_grader = ["runuser", "-u", GRADER, "--", "env", f"HOME={home / GRADER}",
                 f"PATH={bin_dir}{os.pathsep}{os.environ['PATH']}", str(bin_dir / "nbgrader")]
    run([*as_grader, "generate_assignment", "lesson01"], cwd=grading)
    run([*as_grader, "release_assignment", "lesson01"], cwd=grading)
    listed = _nbgrader(hub, ALICE, tokens[ALICE], "fetch", "lesson01")
    assert listed["success"], listed
    fetched = home / ALICE / "lesson01" / "01_attention_intuition.ipynb"
    assert fetched.is_file() and fetched.stat().st_uid == pwd.getpwnam(ALICE).pw_uid
    assert _nbgrader(hub, ALICE, tokens[ALICE], "submit", "lesson01")["success"]
    run([*as_grader, "collect", "lesson01"], cwd=grading)
    collected = grading / "submitted" / ALICE / "lesson01" / "01_attention_intuition.ipynb"
    assert collected.is_file() and collected.stat().st_uid == pwd.getpwnam(GRADER).pw_uid

    # bob, in his own kernel, can read none of it: not alice's answers, progress or submission
    ws = _session_kernel(hub, BOB, tokens[BOB], "attention-course/exercises/01_attention_intuition.ipynb")
    targets = [home / ALICE / "attention-course/exercises/01_attention_intuition.ipynb", alice_progress,
               fetched, home / ALICE, hub["exchange"] / COURSE / "inbound"]
    probe = ("import os\nfor t in %r:\n    try:\n        (os.listdir if os.path.isdir(t) else "
             "lambda p: open(p).read())(t)\n        print('READ', t)\n    except PermissionError:\n"
             "        print('DENIED', t)\n" % [str(t) for t in targets])
    status, errors, out = asyncio.run(_execute(ws, tokens[BOB], probe))
    assert status == "ok" and not errors, errors
    assert out.split().count("DENIED") == len(targets), out
    # nor through the hub: not alice's server with his token, not his server with a path out of his home
    lesson_path = "attention-course/notebooks/01_attention_intuition.ipynb"
    assert _api(hub, "GET", f"/user/{ALICE}/api/contents/{lesson_path}", token=tokens[ALICE]).status_code == 200
    assert _api(hub, "GET", f"/user/{ALICE}/api/contents/{lesson_path}", token=tokens[BOB]).status_code == 403
    r = _api(hub, "GET", f"/user/{BOB}/api/contents/..%2F{ALICE}%2F{urllib.parse.quote(lesson_path, safe='')}",
             token=tokens[BOB])
    assert r.status_code in (400, 403, 404)

    # the instructor (root) sees the class: alice passed 01.weighted_sum, bob checked nothing
    course = Path(sys.executable).parent / "course"
    proc = run([course, "--lang", "en", "classroom", "progress", "--homes", str(home),
                "--learners", str(base / "learners.txt"), "--csv"], cwd=base)
    rows = {(r["learner"], r["lesson"]): r for r in csv.DictReader(io.StringIO(proc.stdout))}
    assert rows[(ALICE, "01")]["passed"] == "1" and rows[(ALICE, "01")]["last_activity"]
    assert rows[(BOB, "01")]["passed"] == "0" and rows[(BOB, "01")]["last_activity"] == ""
    table = run([course, "--lang", "en", "classroom", "progress", "--homes", str(home)], cwd=base).stdout
    assert [line.split()[0] for line in table.splitlines()[1:3]] == [ALICE, BOB], table
