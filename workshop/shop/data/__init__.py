"""The shared dataset: a deterministic generator (from data/vocab) and a COPY loader."""

from workshop.shop.data.sizes import SIZES, Size, get_size

__all__ = ["SIZES", "Size", "get_size"]
