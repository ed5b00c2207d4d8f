"""Dataset sizes. Orders, items and reviews grow in proportion to customers."""

from __future__ import annotations

from dataclasses import dataclass

from workshop.errors import WorkshopError


@dataclass(frozen=True)
class Size:
    name: str
    customers: int
    products: int
    orders: int
    reviews: int
    staff: int
    purpose: str

    @property
    def approx_rows(self) -> int:
        """Rows to load, counting ~2.4 items per order (the exact count is drawn)."""
        return self.customers + self.products + self.orders + int(self.orders * 2.4) + self.reviews + self.staff


SIZES: dict[str, Size] = {
    s.name: s
    for s in (
        Size("tiny", 400, 80, 800, 200, 8, "tests: loads in about a second"),
        Size("workshop", 100_000, 3_000, 200_000, 30_000, 25, "the notebooks' default: loads in seconds"),
        Size("bench", 1_000_000, 20_000, 2_000_000, 300_000, 50, "benchmarks: a million customers"),
    )
}


def get_size(name: str) -> Size:
    if isinstance(name, str) and name in SIZES:
        return SIZES[name]
    shown = repr(name)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."  # a megabyte of input stays one short line
    raise WorkshopError(f"Unknown dataset size {shown}", f"choose one of: {', '.join(SIZES)}")
