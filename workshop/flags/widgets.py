"""The notebook's widgets: the live product page (toggles and a percentage slider, the
request and the response shown), the 10,000-user grid (sticky hash vs waffle's random roll),
and the kill switch flipped while other processes serve requests."""

from __future__ import annotations

import html
import os

import ipywidgets as widgets
from IPython.display import HTML, display

from workshop.django_setup import require_setup
from workshop.widgets import visible_errors

require_setup()  # used before workshop.setup(): say which cell to run

from workshop.flags import grid, killswitch, ladder  # noqa: E402


def apply_to_every_rung(enabled: bool, everyone: bool, percentage: float) -> None:
    """The same intent on every rung: the env toggle and the switch know only on/off (on
    when enabled for everyone), waffle's flag and the workshop's flag take the percentage."""
    from waffle.models import Flag, Switch

    from workshop.flags.client import get_client
    from workshop.flags.definitions import define

    all_on = enabled and (everyone or percentage >= 100)
    os.environ[ladder.ENV_TOGGLE] = "1" if all_on else "0"
    Switch.objects.update_or_create(name=ladder.RECOMMENDED, defaults={"active": all_on})
    Flag.objects.update_or_create(
        name=ladder.RECOMMENDED,
        defaults={
            "everyone": (True if everyone else None) if enabled else False,
            "percent": percentage,
            "superusers": False,
        },
    )
    define(ladder.RECOMMENDED, enabled=enabled, everyone=everyone, percentage=percentage)
    # define() committed; wait until this process's store heard the NOTIFY
    get_client().store.wait_for(lambda d: _matches(d.get(ladder.RECOMMENDED), enabled, everyone, percentage))


def _matches(definition, enabled, everyone, percentage) -> bool:
    return (
        definition is not None
        and definition.enabled == enabled
        and definition.everyone == everyone
        and abs(definition.percentage - percentage) < 0.005
    )


def visitors() -> list[tuple[str, int | None]]:
    from django.contrib.auth.models import User

    staff = [
        (f"{u.username} ({', '.join(g.name for g in u.groups.all()) or 'no group'})", u.pk)
        for u in User.objects.order_by("id").prefetch_related("groups")
    ]
    return staff + [("anonymous visitor", None)]


def request_page(user_id: int | None, gate: str, product_id: int = 1):
    from django.contrib.auth.models import User
    from django.test import Client

    client = Client(raise_request_exception=False)
    if user_id is not None:
        client.force_login(User.objects.get(pk=user_id))
    return client.get(f"/products/{product_id}/", {"gate": gate})


def live_view() -> widgets.VBox:
    """Flip and slide: the flag is changed (committed, NOTIFY), then the product page is
    requested through Django's test client; the request, the headers and the page are shown."""
    from workshop.flags import rules
    from workshop.flags.client import context_for_user, get_client

    gate = widgets.Dropdown(options=list(ladder.GATES), value="workshop", description="Gate")
    visitor = widgets.Dropdown(options=visitors(), description="Visitor", layout=widgets.Layout(width="380px"))
    enabled = widgets.Checkbox(value=True, description="enabled (kill switch)")
    everyone = widgets.Checkbox(value=False, description="everyone")
    percentage = widgets.FloatSlider(
        value=50, min=0, max=100, step=1, description="Percentage", continuous_update=False, readout_format=".0f"
    )
    out = widgets.Output()

    @visible_errors(out)
    def show(_change=None) -> None:
        from django.contrib.auth.models import User

        apply_to_every_rung(enabled.value, everyone.value, percentage.value)
        response = request_page(visitor.value, gate.value)
        user = User.objects.filter(pk=visitor.value).first()
        definition = get_client().store.get(ladder.RECOMMENDED)
        why = rules.reason(definition, context_for_user(user))
        page = response.content.decode()
        display(
            HTML(
                f"<pre>GET /products/1/?gate={gate.value}   as {html.escape(str(user or 'anonymous'))}\n"
                f"-> {response.status_code}  X-Recommended: {response.get('X-Recommended')}   "
                f"(workshop flag at {percentage.value:.0f}%: {html.escape(why)})</pre>"
                f"<div style='border:1px solid #ccc;padding:6px;max-width:640px'>{page}</div>"
            )
        )

    for control in (gate, visitor, enabled, everyone, percentage):
        control.observe(show, names="value")
    show()
    return widgets.VBox([widgets.HBox([gate, visitor]), widgets.HBox([enabled, everyone, percentage]), out])


def bucketing_grid(key: str = ladder.RECOMMENDED) -> widgets.VBox:
    """10,000 users as a 100 x 100 grid at the slider's percentage: who is on with the
    workshop's hash, who is on with waffle's cookie-less roll, and who changed since the
    last position (green: turned on, red: turned off)."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    slider = widgets.FloatSlider(
        value=10, min=0, max=100, step=5, description="Rollout %", continuous_update=False, readout_format=".0f"
    )
    out = widgets.Output()
    previous: dict[str, object] = {"workshop": None, "waffle": None}
    colors = ListedColormap(["#e8e8e8", "#4c72b0", "#55a868", "#c44e52"])

    @visible_errors(out)
    def show(_change=None) -> None:
        answers = {
            "workshop": grid.workshop_answers(key, slider.value),
            "waffle": grid.waffle_answers(key, slider.value),
        }
        fig, axes = plt.subplots(1, 2, figsize=(9, 4.4))
        for ax, (name, now) in zip(axes, answers.items()):
            ax.imshow(
                grid.states(now, previous[name]).reshape(grid.SIDE, grid.SIDE),
                cmap=colors,
                vmin=0,
                vmax=3,
                interpolation="nearest",
            )
            title = "workshop: blake2b(flag, user)" if name == "workshop" else "waffle: random roll, no cookie"
            ax.set_title(f"{title}\n{grid.summary(now, previous[name])}", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
            previous[name] = now
        fig.suptitle(f"10,000 users at {slider.value:.0f}%  (blue on, green turned on, red turned off)", fontsize=10)
        plt.tight_layout()
        plt.show()

    slider.observe(show, names="value")
    show()
    return widgets.VBox([slider, out])


def kill_switch(user_ids: list[int] | None = None) -> widgets.VBox:
    """Two processes request the product page in a loop (its new block fails); the button
    flips the kill switch and plots every request's outcome around the flip."""
    from django.contrib.auth.models import User

    from workshop.flags.client import conninfo

    ids = user_ids or list(User.objects.order_by("id").values_list("id", flat=True)[:2])
    button = widgets.Button(description="Run again", icon="power-off")
    out = widgets.Output()

    @visible_errors(out)
    def run(_click=None) -> None:
        import matplotlib.pyplot as plt

        print(f"{len(ids)} processes serve the page in a loop; the kill switch is flipped 0.4 s in ...")
        result = killswitch.run(conninfo(), ladder.RECOMMENDED, ids)
        notify = result.obeyed_after(2)
        ttl = result.obeyed_after(3)
        killswitch.plot(result)
        plt.show()
        print(
            f"{result.requests} requests, {result.errors} failed. Every process obeyed "
            f"{_ms(notify)} after the commit (LISTEN/NOTIFY); with a {result.ttl:g} s TTL cache: {_ms(ttl)}."
        )
        from workshop.flags.definitions import define

        define(ladder.RECOMMENDED, enabled=True)  # back on, for the next sections

    button.on_click(run)
    run()
    return widgets.VBox([button, out])


def _ms(values: list[float | None]) -> str:
    if any(v is None for v in values):
        return "not within the run"
    return f"{max(values) * 1000:.0f} ms"
