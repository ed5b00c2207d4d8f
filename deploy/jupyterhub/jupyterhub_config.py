"""JupyterHub for the room: one user per attendee, each user's JupyterLab started from the
workshop's environment with the workshop's variables (docs/jupyterhub.md).

    jupyterhub -f deploy/jupyterhub/jupyterhub_config.py

Settings, from the environment of the Hub (all optional except where said):
  WORKSHOP_HUB_AUTH       pam (default): the machine's Unix users, each server runs as its user
                          (LocalProcessSpawner); dummy: any name with the shared password
                          WORKSHOP_HUB_PASSWORD (required then), every server runs as the Hub's own
                          account in <WORKSHOP_HUB_ROOM>/<user> (SimpleLocalProcessSpawner).
  WORKSHOP_HUB_ATTENDEES  the instructor's attendees.tsv from `workshop classroom prepare`
                          (user <TAB> database URL): only those users may sign in, and each one's
                          server gets classroom mode with their own URL (workshop/classroom/).
                          Without it every user gets an embedded PostgreSQL of their own.
  WORKSHOP_VENV           the workshop's environment (default: the checkout's .venv).
  WORKSHOP_HUB_ROOM       dummy mode's home folders (default /srv/workshop-room).
  WORKSHOP_HUB_PORT       the Hub's port on 127.0.0.1 (default 8000; TLS and a public address
                          belong to the reverse proxy in front, e.g. TLJH's Traefik).
  WORKSHOP_HUB_PROXY      configurable-http-proxy's path, when it is not on PATH.
  WORKSHOP_HUB_ADMIN_TOKEN  an API token with the right to create users and start servers
                          (scripts, the smoke test); none by default.
  WORKSHOP_ELASTICSEARCH_URL  the room's shared node, passed on to every server.
The Hub keeps its own state (sqlite database, cookie secret) in the folder it is started from.
"""

import os
from pathlib import Path

c = get_config()  # noqa: F821 (JupyterHub defines it when it loads this file)

CHECKOUT = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("WORKSHOP_VENV") or CHECKOUT / ".venv")
AUTH = os.environ.get("WORKSHOP_HUB_AUTH", "pam")
ROOM = Path(os.environ.get("WORKSHOP_HUB_ROOM") or "/srv/workshop-room")


def read_attendees(path: str | None) -> dict[str, str]:
    """attendees.tsv: one `user<TAB>database URL` a line (0600, written by the instructor)."""
    if not path:
        return {}
    lines = Path(path).read_text().splitlines()
    return dict(line.split("\t", 1) for line in lines if "\t" in line)


ATTENDEES = read_attendees(os.environ.get("WORKSHOP_HUB_ATTENDEES"))

c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = int(os.environ.get("WORKSHOP_HUB_PORT") or 8000)
c.JupyterHub.hub_ip = "127.0.0.1"
if os.environ.get("WORKSHOP_HUB_PROXY"):
    c.ConfigurableHTTPProxy.command = [os.environ["WORKSHOP_HUB_PROXY"]]

if AUTH == "dummy":
    if not os.environ.get("WORKSHOP_HUB_PASSWORD"):
        raise SystemExit("WORKSHOP_HUB_AUTH=dummy needs WORKSHOP_HUB_PASSWORD (the room's shared password)")
    c.JupyterHub.authenticator_class = "dummy"
    c.DummyAuthenticator.password = os.environ["WORKSHOP_HUB_PASSWORD"]
    c.JupyterHub.spawner_class = "simple"
    c.SimpleLocalProcessSpawner.home_dir_template = str(ROOM / "{username}")
    if os.geteuid() == 0:  # containers and CI run as root; Jupyter refuses to otherwise
        c.Spawner.args = ["--ServerApp.allow_root=True"]
elif AUTH == "pam":
    c.JupyterHub.authenticator_class = "pam"
    c.JupyterHub.spawner_class = "localprocess"
else:
    raise SystemExit(f"WORKSHOP_HUB_AUTH={AUTH!r}: use pam or dummy")
if ATTENDEES:
    c.Authenticator.allowed_users = set(ATTENDEES)
else:
    c.Authenticator.allow_all = True  # the machine's users (pam) or the password holders (dummy)

# Each server: the workshop environment's JupyterLab, the notebooks copied into the user's home
# on first start (never over their edits), JupyterLab as the landing page.
c.Spawner.cmd = [
    "/bin/sh",
    "-c",
    'mkdir -p "$HOME/notebooks" && cp -Rn "$WORKSHOP_NOTEBOOKS/." "$HOME/notebooks/" && exec "$0" "$@"',
    str(VENV / "bin" / "jupyterhub-singleuser"),
]
c.Spawner.notebook_dir = "~/notebooks"
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120  # 50 servers starting at once on a small machine
c.Spawner.http_timeout = 120


def workshop_environment(spawner) -> None:
    """The workshop's variables for this user's server (read by workshop.setup() in its kernels)."""
    user = spawner.user.name
    home = ROOM / user if AUTH == "dummy" else Path(os.path.expanduser(f"~{user}"))
    env = {
        "PATH": f"{VENV / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "WORKSHOP_NOTEBOOKS": str(CHECKOUT / "notebooks"),
        "WORKSHOP_NO_DOCKER": "1",
        # the user's own state folder (their embedded server, or classroom mode's local notes)
        "WORKSHOP_HOME": str(home / ".workshop"),
    }
    # read again at every start: an attendee prepared during the session (a laptop that failed)
    # gets their URL once the instructor adds them on the Hub's admin page, no restart needed
    attendees = read_attendees(os.environ.get("WORKSHOP_HUB_ATTENDEES"))
    if user in attendees:
        env.update({"WORKSHOP_CLASSROOM": "1", "WORKSHOP_DATABASE_URL": attendees[user]})
    if os.environ.get("WORKSHOP_ELASTICSEARCH_URL"):
        env["WORKSHOP_ELASTICSEARCH_URL"] = os.environ["WORKSHOP_ELASTICSEARCH_URL"]
    spawner.environment.update(env)


c.Spawner.pre_spawn_hook = workshop_environment

if os.environ.get("WORKSHOP_HUB_ADMIN_TOKEN"):
    c.JupyterHub.services = [{"name": "workshop-admin", "api_token": os.environ["WORKSHOP_HUB_ADMIN_TOKEN"]}]
    c.JupyterHub.load_roles = [
        {
            "name": "workshop-admin",
            "scopes": ["admin:users", "admin:servers", "access:servers"],
            "services": ["workshop-admin"],
        }
    ]
