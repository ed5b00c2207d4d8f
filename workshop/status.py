"""What setup() reports: which database, which services, which dataset, how long it took."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

_COUNTED = (
    ("shop_customer", "customers"),
    ("shop_product", "products"),
    ("shop_order", "orders"),
    ("shop_orderitem", "order items"),
    ("shop_review", "reviews"),
    ("auth_user", "staff"),
)


@dataclass(frozen=True)
class Status:
    database: str  # redacted URL
    database_source: str
    elasticsearch: str  # URL or the reason there is none
    elasticsearch_available: bool
    dataset: str
    row_counts: dict[str, int] = field(default_factory=dict)
    migrations_applied: tuple[str, ...] = ()
    seconds: float = 0.0

    def lines(self) -> list[tuple[str, str]]:
        counts = ", ".join(f"{self.row_counts[t]:,} {label}" for t, label in _COUNTED if t in self.row_counts)
        return [
            ("PostgreSQL", f"{self.database_source}: {self.database}"),
            (
                "Elasticsearch",
                self.elasticsearch if self.elasticsearch_available else f"not available ({self.elasticsearch})",
            ),
            ("Dataset", f"{self.dataset}: {counts}" if counts else self.dataset),
            (
                "Ready in",
                f"{self.seconds:.1f} s"
                + (f" (applied {len(self.migrations_applied)} migrations)" if self.migrations_applied else ""),
            ),
        ]

    def __str__(self) -> str:
        return "\n".join(f"{k:<14} {v}" for k, v in self.lines())

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td style='text-align:left'>{html.escape(v)}</td></tr>"
            for k, v in self.lines()
        )
        return f"<table>{rows}</table>"
