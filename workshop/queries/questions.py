"""The shop's business questions, each answered by one queryset built from Django expressions.

Every question is a function `(Params) -> QuerySet` of dicts (`.values(...)`) with a
deterministic order; `reference.py` answers the same question in pandas over the raw rows,
and `compare.verify()` checks that the two agree. The `features` say which expression each
question is here to show.

Revenue counts the orders that brought money: paid, shipped or delivered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from workshop.django_setup import require_setup

require_setup()

from django.db.models import (  # noqa: E402
    Avg,
    Case,
    CharField,
    Count,
    DateTimeField,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    FilteredRelation,
    FloatField,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.fields.json import KT  # noqa: E402
from django.db.models.functions import (  # noqa: E402
    Cast,
    Coalesce,
    ExtractMonth,
    ExtractYear,
    Greatest,
    JSONObject,
    Lag,
    Rank,
    TruncMonth,
)

from workshop.errors import WorkshopError  # noqa: E402
from workshop.queries.expressions import Median, WidthBucket, WindowSum  # noqa: E402
from workshop.queries.params import Params  # noqa: E402
from workshop.shop.models import Category, Customer, Order, OrderItem, Product  # noqa: E402

COUNTED = ("paid", "shipped", "delivered")
MONEY = DecimalField(max_digits=14, decimal_places=2)
# quantity * unit_price: ExpressionWrapper states the result type of the arithmetic.
LINE_AMOUNT = ExpressionWrapper(F("quantity") * F("unit_price"), output_field=MONEY)
ZERO = Value(0, output_field=MONEY)
PRICE_BUCKETS = (0, 600, 12)  # width_bucket over [0, 600) in 12 bands of 50


@dataclass(frozen=True)
class Question:
    name: str
    title: str
    build: Callable[[Params], QuerySet]
    features: tuple[str, ...]
    uses: tuple[str, ...]  # which parameters matter: "dates", "category", "min_orders", "top"

    def __call__(self, params: Params) -> QuerySet:
        return self.build(params)


QUESTIONS: dict[str, Question] = {}


def question(title: str, features: tuple[str, ...], uses: tuple[str, ...] = ("dates", "category")):
    def register(func: Callable[[Params], QuerySet]) -> Callable[[Params], QuerySet]:
        QUESTIONS[func.__name__] = Question(func.__name__, title, func, features, uses)
        return func

    return register


def ask(name: str, params: Params | None = None, **values) -> QuerySet:
    """The queryset answering question `name`; parameters as a Params or as keywords."""
    if name not in QUESTIONS:
        raise WorkshopError(f"Unknown question {name!r}", f"choose one of: {', '.join(QUESTIONS)}")
    return QUESTIONS[name](params or Params.parse(**values))


# --- filters shared by the questions -----------------------------------------------------------


def order_filter(p: Params, path: str = "", counted: bool = True) -> Q:
    """Orders in the date range (and that brought money); `path` leads from the model to Order."""
    q = Q(**{f"{path}status__in": COUNTED}) if counted else Q()
    if p.start_at:
        q &= Q(**{f"{path}created_at__gte": p.start_at})
    if p.end_before:
        q &= Q(**{f"{path}created_at__lt": p.end_before})
    return q


def category_filter(p: Params, path: str) -> Q:
    """`path` leads to Category, e.g. "product__category__"."""
    return Q(**{f"{path}slug": p.category}) if p.category else Q()


def counted_items(p: Params) -> QuerySet:
    return OrderItem.objects.filter(order_filter(p, "order__"), category_filter(p, "product__category__"))


def order_has_category(p: Params) -> Q:
    """An order with at least one item of the category: Exists, so orders are not repeated."""
    if not p.category:
        return Q()
    return Q(Exists(OrderItem.objects.filter(order=OuterRef("pk"), product__category__slug=p.category)))


# --- the questions ------------------------------------------------------------------------------


@question("Revenue by month", ("F", "ExpressionWrapper", "TruncMonth", "Sum"))
def revenue_by_month(p: Params) -> QuerySet:
    return (
        counted_items(p)
        .annotate(month=TruncMonth("order__created_at"))
        .values("month")
        .annotate(revenue=Sum(LINE_AMOUNT), orders=Count("order", distinct=True))
        .order_by("month")
    )


@question("Revenue by category, zero included", ("conditional aggregation filter=", "Coalesce"))
def revenue_by_category(p: Params) -> QuerySet:
    # The filter goes into the aggregate, not .filter(): a category without sales keeps its row.
    sold = order_filter(p, "products__order_items__order__")
    return (
        Category.objects.filter(category_filter(p, ""))
        .annotate(
            revenue=Coalesce(
                Sum(
                    F("products__order_items__quantity") * F("products__order_items__unit_price"),
                    filter=sold,
                    output_field=MONEY,
                ),
                ZERO,
            ),
            units=Coalesce(Sum("products__order_items__quantity", filter=sold), 0),
        )
        .values("slug", "revenue", "units")
        .order_by("-revenue", "slug")
    )


@question("Order statuses by month, with the cancel share", ("conditional aggregation filter=", "Cast", "TruncMonth"))
def order_status_by_month(p: Params) -> QuerySet:
    lost = Q(status__in=("cancelled", "refunded"))
    return (
        Order.objects.filter(order_filter(p, counted=False), order_has_category(p))
        .annotate(month=TruncMonth("created_at"))
        .values("month")
        .annotate(
            orders=Count("id"),
            delivered=Count("id", filter=Q(status="delivered")),
            cancelled=Count("id", filter=Q(status="cancelled")),
            refunded=Count("id", filter=Q(status="refunded")),
            # integer / integer truncates in SQL: Cast to float first.
            lost_share=Cast(Count("id", filter=lost), FloatField()) / Cast(Count("id"), FloatField()),
        )
        .order_by("month")
    )


@question(
    "Repeat customers (at least min_orders orders)", ("alias", "Count", "Max"), ("dates", "category", "min_orders")
)
def repeat_customers(p: Params) -> QuerySet:
    bought = order_filter(p, "orders__") & (Q(orders__items__product__category__slug=p.category) if p.category else Q())
    # alias(): computed and usable in filter(), never sent back in the SELECT list.
    return (
        Customer.objects.alias(order_count=Count("orders", filter=bought, distinct=True))
        .filter(order_count__gte=p.min_orders)
        .annotate(last_order=Max("orders__created_at", filter=bought))
        .values("id", "email", "last_order")
        .order_by("id")
    )


@question("Best-selling product of each category", ("Window", "Rank", "filter on a window"))
def best_product_per_category(p: Params) -> QuerySet:
    return (
        counted_items(p)
        .values(category=F("product__category__slug"), product_ref=F("product_id"), title=F("product__title"))
        .annotate(revenue=Sum(LINE_AMOUNT))
        .annotate(rank=Window(Rank(), partition_by=F("product__category__slug"), order_by=F("revenue").desc()))
        .filter(rank=1)
        .order_by("category", "product_ref")
    )


@question("Monthly revenue and its running total", ("Window", "running total", "custom Func"))
def running_revenue(p: Params) -> QuerySet:
    return (
        counted_items(p)
        .annotate(month=TruncMonth("order__created_at"))
        .values("month")
        .annotate(revenue=Sum(LINE_AMOUNT))
        .annotate(running_total=Window(WindowSum("revenue"), order_by="month"))
        .order_by("month")
    )


@question("Month-over-month change in revenue", ("Window", "Lag"))
def month_over_month(p: Params) -> QuerySet:
    # LAG reads the previous row of the result: last month's revenue beside this month's.
    # (An expression on top of the window, revenue - LAG(...), lands in Django's GROUP BY,
    # where PostgreSQL refuses window functions: subtract in pandas or in the template.)
    return (
        counted_items(p)
        .annotate(month=TruncMonth("order__created_at"))
        .values("month")
        .annotate(revenue=Sum(LINE_AMOUNT))
        .annotate(previous=Window(Lag("revenue"), order_by="month"))
        .order_by("month")
    )


@question("Customers who ordered but never wrote a review", ("Exists", "~Exists", "OuterRef"))
def customers_never_reviewed(p: Params) -> QuerySet:
    ordered = Order.objects.filter(
        order_filter(p), category_filter(p, "items__product__category__"), customer=OuterRef("pk")
    )
    from workshop.shop.models import Review

    reviewed = Review.objects.filter(customer=OuterRef("pk"))
    return Customer.objects.filter(Exists(ordered), ~Exists(reviewed)).values("id", "email").order_by("id")


@question(
    "Orders above the customer's own average order",
    ("Subquery", "OuterRef", "Window Avg", "filter on a window"),
    ("dates",),
)
def orders_above_customer_average(p: Params) -> QuerySet:
    order_total = (
        OrderItem.objects.filter(order=OuterRef("pk")).values("order").annotate(total=Sum(LINE_AMOUNT)).values("total")
    )
    # The customer's average over the same orders, as a window: computed once per customer
    # from the rows at hand (a correlated subquery per order would recompute it each time).
    return (
        Order.objects.filter(order_filter(p))
        .annotate(total=Subquery(order_total, output_field=MONEY))
        .annotate(customer_average=Window(Avg("total", output_field=MONEY), partition_by=F("customer")))
        .filter(total__gt=F("customer_average"))
        .values("id", "customer_id", "total", "customer_average")
        .order_by("id")
    )


@question(
    "Cohort retention: customers still buying n months after their first order",
    ("Subquery", "TruncMonth", "ExtractYear/ExtractMonth", "Count distinct"),
    ("dates",),
)
def cohort_retention(p: Params) -> QuerySet:
    first_month = (
        Order.objects.filter(order_filter(p), customer=OuterRef("customer"))
        .order_by("created_at")
        .annotate(m=TruncMonth("created_at"))
        .values("m")[:1]
    )
    months_since = (ExtractYear("month") - ExtractYear("cohort")) * 12 + ExtractMonth("month") - ExtractMonth("cohort")
    return (
        Order.objects.filter(order_filter(p))
        .annotate(cohort=Subquery(first_month, output_field=DateTimeField()), month=TruncMonth("created_at"))
        .annotate(months_since=months_since)
        .values("cohort", "months_since")
        .annotate(customers=Count("customer", distinct=True))
        .order_by("cohort", "months_since")
    )


SEGMENTS = (("none", 0), ("bronze", 200), ("silver", 1000))  # spend below each bound; "gold" above


@question(
    "Customer segments by spend", ("Case/When", "Coalesce", "conditional aggregation filter=", "Window over groups")
)
def customer_segments(p: Params) -> QuerySet:
    bought = order_filter(p, "orders__") & category_filter(p, "orders__items__product__category__")
    spend = Coalesce(
        Sum(F("orders__items__quantity") * F("orders__items__unit_price"), filter=bought, output_field=MONEY), ZERO
    )
    segment = Case(
        When(spend=0, then=Value("none")),
        When(spend__lt=200, then=Value("bronze")),
        When(spend__lt=1000, then=Value("silver")),
        default=Value("gold"),
        output_field=CharField(),
    )
    # One row per customer (GROUP BY customer), then per-segment totals as windows over those
    # rows, and DISTINCT keeps one row per segment: one pass over the orders, no subquery.
    return (
        Customer.objects.annotate(spend=spend, segment=segment)
        .annotate(
            customers=Window(Count("id"), partition_by=F("segment")),
            revenue=Window(WindowSum("spend"), partition_by=F("segment")),
        )
        .values("segment", "customers", "revenue")
        .distinct()
        .order_by("segment")
    )


@question("Most recently active customers", ("Greatest", "Coalesce", "Subquery"), ("dates", "top"))
def last_activity(p: Params) -> QuerySet:
    from workshop.shop.models import Review

    def latest(model):
        rows = model.objects.filter(customer=OuterRef("pk"))
        rows = rows.filter(order_filter(p, counted=False)) if model is Order else rows.filter(_created_in(p))
        return Subquery(rows.order_by("-created_at").values("created_at")[:1])

    # GREATEST skips NULLs in PostgreSQL; Coalesce covers customers with neither.
    return (
        Customer.objects.annotate(last_order=latest(Order), last_review=latest(Review))
        .annotate(last_activity=Coalesce(Greatest("last_order", "last_review"), "created_at"))
        .values("id", "last_order", "last_review", "last_activity")
        .order_by("-last_activity", "id")[: p.top]
    )


def _created_in(p: Params) -> Q:
    q = Q()
    if p.start_at:
        q &= Q(created_at__gte=p.start_at)
    if p.end_before:
        q &= Q(created_at__lt=p.end_before)
    return q


@question(
    "Lost big orders as JSON documents (3+ items, cancelled or refunded)",
    ("JSONObject", "JSON key transforms", "KT", "Cast"),
    ("dates", "category"),
)
def lost_orders_as_json(p: Params) -> QuerySet:
    items = OrderItem.objects.filter(order=OuterRef("pk")).values("order")
    doc = JSONObject(
        status="status",
        items=Subquery(items.annotate(n=Count("id")).values("n")),
        total=Subquery(items.annotate(t=Sum(LINE_AMOUNT)).values("t")),
    )
    # The status is filtered on its column (cheap, before any JSON is built); the item count
    # through a key transform on the JSON built above: doc -> 'items'.
    return (
        Order.objects.filter(
            order_filter(p, counted=False), order_has_category(p), status__in=["cancelled", "refunded"]
        )
        .annotate(doc=doc)
        .filter(doc__items__gte=3)
        .values(
            "id",
            "doc",
            state=KT("doc__status"),
            item_count=Cast(KT("doc__items"), IntegerField()),
            total=Cast(KT("doc__total"), MONEY),
        )
        .order_by("id")
    )


@question("Price bands of the catalogue", ("custom Func (width_bucket)", "Min/Max"), ("category",))
def price_histogram(p: Params) -> QuerySet:
    low, high, buckets = PRICE_BUCKETS
    return (
        Product.objects.filter(category_filter(p, "category__"))
        .annotate(band=WidthBucket("price", low, high, buckets))
        .values("band")
        .annotate(products=Count("id"), cheapest=Min("price"), dearest=Max("price"))
        .order_by("band")
    )


@question("Median and average order line per category", ("custom Aggregate (percentile_cont)", "Avg"))
def median_line_by_category(p: Params) -> QuerySet:
    return (
        counted_items(p)
        .values(category=F("product__category__slug"))
        .annotate(
            lines=Count("id"), median_line=Median(LINE_AMOUNT), average_line=Avg(LINE_AMOUNT, output_field=FloatField())
        )
        .order_by("category")
    )


@question("Revenue by customers' email domain", ("custom Transform (email__domain)",))
def revenue_by_email_domain(p: Params) -> QuerySet:
    return (
        counted_items(p)
        .values(domain=F("order__customer__email__domain"))
        .annotate(customers=Count("order__customer", distinct=True), revenue=Sum(LINE_AMOUNT))
        .order_by("-revenue", "domain")
    )


@question(
    "Products with bad reviews (1-2 stars), next to all their reviews",
    ("FilteredRelation", "Count distinct"),
    ("dates", "category"),
)
def products_with_bad_reviews(p: Params) -> QuerySet:
    bad = Q(reviews__rating__lte=2) & Q(**{f"reviews__{k}": v for k, v in _created_in(p).children})
    # The condition sits in the LEFT JOIN's ON clause: a product keeps its row, and all its
    # reviews are still counted through the plain relation.
    return (
        Product.objects.filter(category_filter(p, "category__"))
        .annotate(bad_reviews_rel=FilteredRelation("reviews", condition=bad))
        .annotate(bad_reviews=Count("bad_reviews_rel", distinct=True), all_reviews=Count("reviews", distinct=True))
        .filter(bad_reviews__gte=1)
        .values("id", "title", "bad_reviews", "all_reviews")
        .order_by("-bad_reviews", "id")
    )
