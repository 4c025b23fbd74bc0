"""The bench's figures for people: one rich table (``--json`` prints the same facts)."""

from __future__ import annotations

from typing import Any

from rich.table import Table


def _value(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        text = f"{value:,.1f}" if value >= 100 else f"{value:,.2f}"
    else:
        text = f"{value:,}"
    return f"{text}{unit}"


def table(figures: dict[str, Any]) -> Table:
    latency = figures["latencyMs"]
    grid = Table(title="wsctl bench", show_header=False, title_justify="left")
    grid.add_column("what", style="bold")
    grid.add_column("value")
    grid.add_row("connections", f"{figures['connected']:,} of {figures['clients']:,} opened")
    grid.add_row("connect rate", _value(figures["connectRate"], " /s"))
    grid.add_row("broadcasts", f"{figures['acked']:,} of {figures['sent']:,} acked")
    grid.add_row("deliveries", f"{figures['delivered']:,} of {figures['expected']:,} expected")
    completeness = figures["completeness"]
    style = "green" if completeness == 1.0 else "red"
    shown = "-" if completeness is None else f"{completeness:.4f}"
    grid.add_row("completeness", f"[{style}]{shown}[/]")
    grid.add_row("deliveries/s", _value(figures["deliveriesPerSecond"]))
    grid.add_row(
        "latency ms",
        "  ".join(f"{name} {_value(latency[name])}" for name in ("p50", "p95", "p99", "max")),
    )
    errors = figures["errors"]
    grid.add_row(
        "errors",
        "[green]none[/]"
        if not errors
        else "[red]" + ", ".join(f"{kind}: {count:,}" for kind, count in errors.items()) + "[/]",
    )
    grid.add_row("elapsed", _value(figures["elapsedSeconds"], " s"))
    cost = figures.get("cost")
    if cost:
        for line in cost["lines"]:
            grid.add_row(
                f"cost: {line['service']} {line['what']}",
                f"${line['usd']:.6f}  ({_value(line['quantity'])} {line['unit']})",
            )
        grid.add_row(
            "cost: total",
            f"${cost['totalUsd']:.6f}  (prices {cost['region']}, {cost['pricesAsOf']})",
        )
    return grid
