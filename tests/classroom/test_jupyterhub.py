"""A real JupyterHub from classroom/jupyterhub_config.py serves two learners their own copies
of the course (handed out with an nbgitpuller link, as in docs/TEACHING.md); one runs a lesson
and an exercise check, and the progress it records is in their copy only, out of the other's
reach. Only the login (a test authenticator) and the spawner's home folders are test-specific.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import uuid

import nbformat
import pytest
from helpers import ROOT, missing_tool, need, run

WHY = "the classroom tools are not installed here: run `bash scripts/test_classroom.sh`"
requests = need("requests", WHY)
need("jupyterhub", WHY)
need("nbgitpuller", WHY)
need("jupyterhub_idle_culler", WHY)
from tornado.httpclient import HTTPRequest  # noqa: E402
from tornado.websocket import websocket_connect  # noqa: E402

from course_utils.course import classroom  # noqa: E402

TOKEN = uuid.uuid4().hex
LEARNERS = ("alice", "bob")


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


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hub")
    port, hub_port, api_port = _free_port(), _free_port(), _free_port()
    (tmp / "learners.txt").write_text("\n".join(LEARNERS) + "\n")
    config = tmp / "test_config.py"
    config.write_text(f"""
load_subconfig({str(ROOT / 'classroom' / 'jupyterhub_config.py')!r})
c = get_config()
# test-only: a password login instead of the machine's accounts, home folders under {tmp}
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {uuid.uuid4().hex!r}
c.JupyterHub.spawner_class = "simple"
c.Spawner.args = {['--allow-root'] if os.geteuid() == 0 else []!r}  # CI runs as root; learners never do
c.SimpleLocalProcessSpawner.home_dir_template = {str(tmp / 'home' / '{username}')!r}
c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.ConfigurableHTTPProxy.command = [{_proxy_command()!r}]
c.JupyterHub.db_url = "sqlite:///{tmp / 'hub.sqlite'}"
c.JupyterHub.cookie_secret_file = {str(tmp / 'cookie_secret')!r}
c.JupyterHub.services.append({{"name": "test-admin", "api_token": {TOKEN!r}}})
c.JupyterHub.load_roles.append({{"name": "test-admin", "services": ["test-admin"],
    "scopes": ["admin:users", "admin:servers", "tokens", "access:servers", "list:services", "read:services"]}})
""")
    for user in LEARNERS:
        (tmp / "home" / user).mkdir(parents=True)
    env = {**os.environ, "COURSE_LEARNERS": str(tmp / "learners.txt"), "OMP_NUM_THREADS": "1"}
    env.pop("COURSE_NO_PROGRESS", None)
    log = open(tmp / "hub.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(config)], cwd=tmp, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                if requests.get(f"{base}/hub/api", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                raise AssertionError("JupyterHub did not start:\n" + (tmp / "hub.log").read_text()[-4000:])
            time.sleep(0.5)
        yield {"base": base, "tmp": tmp, "log": tmp / "hub.log"}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def _api(hub, method, path, token=TOKEN, **kwargs):
    return requests.request(method, f"{hub['base']}{path}", headers={"Authorization": f"token {token}"},
                            timeout=60, **kwargs)


def _start_server(hub, user):
    r = _api(hub, "POST", f"/hub/api/users/{user}/server")
    assert r.status_code in (201, 202), r.text
    deadline = time.time() + 180
    while time.time() < deadline:
        model = _api(hub, "GET", f"/hub/api/users/{user}").json()
        if model.get("servers", {}).get("", {}).get("ready"):
            return
        time.sleep(1)
    raise AssertionError(f"{user}'s server did not start:\n" + hub["log"].read_text()[-4000:])


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


def test_two_learners_own_copies_and_progress(hub, tmp_path):
    # the course as an nbgitpuller link hands it out: a git repository (here a local clone)
    repo = tmp_path / "attention-course.git"
    run(["git", "clone", "--quiet", "--bare", str(ROOT), str(repo)], cwd=tmp_path)
    branch = subprocess.run(["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip() or "main"
    link = classroom.nbgitpuller_link(hub["base"], str(repo), branch=branch)
    assert link.startswith(f"{hub['base']}/hub/user-redirect/git-pull?") and "targetpath=attention-course" in link

    r = _api(hub, "POST", "/hub/api/users", json={"usernames": list(LEARNERS)})
    assert r.status_code in (201, 409), r.text
    tokens = {}
    for user in LEARNERS:
        _start_server(hub, user)
        r = _api(hub, "POST", f"/hub/api/users/{user}/tokens", json={"note": "test", "expires_in": 3600})
        assert r.status_code == 201, r.text
        tokens[user] = r.json()["token"]
        _git_pull(hub, user, tokens[user], str(repo), branch)
        home = hub["tmp"] / "home" / user / "attention-course"
        assert (home / "notebooks" / "01_attention_intuition.ipynb").is_file()

    # the idle culler runs as a hub service
    services = _api(hub, "GET", "/hub/api/services").json()
    assert "idle-culler" in services, services

    # alice runs lesson 01 top to bottom, then passes an exercise check, in her own kernel
    r = _api(hub, "POST", "/user/alice/api/kernels", token=tokens["alice"],
             json={"name": "python3", "path": "attention-course/notebooks"})
    assert r.status_code == 201, r.text
    kernel = r.json()["id"]
    ws = hub["base"].replace("http", "ws", 1) + f"/user/alice/api/kernels/{kernel}/channels"
    lesson = nbformat.read(hub["tmp"] / "home/alice/attention-course/notebooks/01_attention_intuition.ipynb",
                           as_version=4)
    code_cells = [c.source for c in lesson.cells if c.cell_type == "code"]
    assert code_cells
    for source in code_cells:
        status, errors, _ = asyncio.run(_execute(ws, tokens["alice"], source))
        assert status == "ok" and not errors, (source[:200], errors)
    status, errors, out = asyncio.run(_execute(ws, tokens["alice"], (
        "import os\nos.chdir(os.path.expanduser('~/attention-course/exercises'))\n"
        "from course_utils.course.checks import check\n"
        "print(check('01.weighted_sum', lambda weights, values: weights @ values).status)")))
    assert status == "ok" and not errors and "passed" in out, (errors, out)

    # alice's progress is in her copy; bob's copy has none (the files, as on the hub's disk;
    # Jupyter's contents API does not serve hidden folders such as .course/)
    home = hub["tmp"] / "home"
    alice_progress = home / "alice/attention-course/.course/progress.json"
    assert alice_progress.is_file() and "01.weighted_sum" in alice_progress.read_text()
    assert not (home / "bob/attention-course/.course/progress.json").exists()
    # bob cannot reach alice's server or files: not with his token, not through his own server
    lesson_path = "attention-course/notebooks/01_attention_intuition.ipynb"
    assert _api(hub, "GET", f"/user/alice/api/contents/{lesson_path}", token=tokens["alice"]).status_code == 200
    assert _api(hub, "GET", f"/user/alice/api/contents/{lesson_path}", token=tokens["bob"]).status_code == 403
    r = _api(hub, "GET", f"/user/bob/api/contents/..%2Falice%2F{urllib.parse.quote(lesson_path, safe='')}",
             token=tokens["bob"])
    assert r.status_code in (400, 403, 404)
