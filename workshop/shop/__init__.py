"""The shop: one dataset shared by every notebook (customers, staff, products, orders, reviews).

`from workshop.shop import Customer` loads the models on first use (PEP 562), so this
package imports without a configured Django (`workshop bench`, the CLI), and a notebook
cell run before the set-up cell says which cell to run. (workshop.shop.models itself
checks at import: a module that defines Django models cannot be imported earlier.)"""

_MODELS = ("Gender", "Customer", "Category", "Product", "Order", "OrderItem", "Review", "Dataset")
__all__ = list(_MODELS)


def __getattr__(name: str):
    if name not in _MODELS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from workshop.django_setup import require_setup

    require_setup()
    from workshop.shop import models

    return getattr(models, name)
