"""Draw a linear Amazon States Language definition as boxes and arrows."""

from __future__ import annotations

import json

from matplotlib.figure import Figure


def state_chain(definition: dict) -> list[str]:
    """Return the state names from StartAt along each Next, up to the end state."""
    chain: list[str] = []
    name = definition["StartAt"]
    while name is not None:
        if name in chain:
            raise ValueError(f"state {name!r} is reached twice; the chain has a loop")
        chain.append(name)
        name = definition["States"][name].get("Next")
    return chain


def _label(name: str, state: dict) -> str:
    details = {
        "Wait": lambda s: f"until {s.get('TimestampPath') or s.get('Timestamp')}",
        "Task": lambda s: s["Resource"].rsplit(":", 1)[-1],
    }
    detail = details.get(state["Type"], lambda s: "")(state)
    return f"{name}\n({state['Type']})\n{detail}".strip()


def draw_state_machine(definition: dict | str) -> Figure:
    """Draw Start, each state of the chain, and End, top to bottom."""
    if isinstance(definition, str):
        definition = json.loads(definition)
    chain = state_chain(definition)
    labels = ["Start"] + [_label(n, definition["States"][n]) for n in chain] + ["End"]

    figure = Figure(figsize=(4.5, 1.6 * len(labels)))
    axes = figure.subplots()
    axes.set_axis_off()
    axes.set_xlim(0, 1)
    axes.set_ylim(-len(labels) + 0.5, 0.5)
    for row, label in enumerate(labels):
        terminal = row in (0, len(labels) - 1)
        box = {"boxstyle": "circle" if terminal else "round", "fc": "#e8f0fe"}
        axes.text(0.5, -row, label, ha="center", va="center", bbox=box, fontsize=9)
        if row:
            axes.annotate(
                "", xy=(0.5, -row + 0.3), xytext=(0.5, -row + 0.7),
                arrowprops={"arrowstyle": "->"},
            )  # fmt: skip
    for row, name in enumerate(chain, start=1):
        retries = definition["States"][name].get("Retry")
        if retries:
            attempts = max(r.get("MaxAttempts", 3) for r in retries)
            axes.text(
                0.85, -row, f"Retry\n(up to {attempts}x)", fontsize=8, va="center"
            )
    axes.set_title(definition.get("Comment", "State machine"), fontsize=9, wrap=True)
    return figure
