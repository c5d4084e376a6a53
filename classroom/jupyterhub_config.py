# JupyterHub for a class on one machine: the course "Attention, step by step".
# docs/TEACHING.md explains each setting; tests/classroom/test_jupyterhub.py starts a real
# hub from this file (with a test login and throwaway home folders) and checks it.
#
#   jupyterhub -f classroom/jupyterhub_config.py
#
# Environment variables (all optional):
#   COURSE_LEARNERS      a file with one learner's user name per line (who may log in)
#   COURSE_ADMINS        comma-separated user names of instructors (hub admins)
#   COURSE_IDLE_TIMEOUT  seconds of inactivity before a learner's server is stopped (3600)
#   COURSE_MEM_LIMIT     memory per learner (default "2G", see the measurements below)
#   COURSE_CPU_LIMIT     CPU cores per learner (default 1.0)
#   COURSE_HUB_STATE     the folder for the hub's own state (default /srv/jupyterhub)
import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821  (JupyterHub provides it)

# --- The hub's own state (its database, the cookie secret that signs logins, the proxy's pid)
# goes to a folder only root can read, never into the folder the hub was started from (which
# may be the course's clone: the secret must not end up in git).
state = Path(os.environ.get("COURSE_HUB_STATE", "/srv/jupyterhub"))
state.mkdir(mode=0o700, parents=True, exist_ok=True)
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.pid_file = str(state / "jupyterhub-proxy.pid")

# --- Who may log in. The default authenticator checks the machine's own accounts (PAM),
# and the default spawner starts each learner's server as that Unix user, in their home
# folder: learners cannot read each other's files as long as their home folders are closed
# to others (chmod 700; docs/TEACHING.md, tested by tests/classroom/test_jupyterhub.py).
learners_file = os.environ.get("COURSE_LEARNERS")
if learners_file:
    c.Authenticator.allowed_users = {
        line.strip() for line in Path(learners_file).read_text().splitlines() if line.strip()}
admins = {a.strip() for a in os.environ.get("COURSE_ADMINS", "").split(",") if a.strip()}
if admins:
    c.Authenticator.admin_users = admins

# --- Each learner's server: the course environment (the Python this hub runs in, set up from
# requirements-lock.txt), JupyterLab, one thread per learner so a class shares the cores fairly.
c.Spawner.cmd = [os.path.join(os.path.dirname(sys.executable), "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.environment = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
# Sized from classroom/measure_learner.py's figures (docs/TEACHING.md). These limits are enforced by
# container and systemd spawners (KubeSpawner, DockerSpawner, SystemdSpawner); LocalProcessSpawner only reports them.
c.Spawner.mem_limit = os.environ.get("COURSE_MEM_LIMIT", "2G")
c.Spawner.cpu_limit = float(os.environ.get("COURSE_CPU_LIMIT", "1.0"))
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 60

# --- Stop idle servers (their files stay): the jupyterhub-idle-culler service.
idle = os.environ.get("COURSE_IDLE_TIMEOUT", "3600")
c.JupyterHub.services = [{
    "name": "idle-culler",
    "command": [sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={idle}",
                f"--cull-every={max(5, min(300, int(idle) // 2))}"],
}]
c.JupyterHub.load_roles = [{
    "name": "idle-culler",
    "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
    "services": ["idle-culler"],
}]
