"""The shop's models. Customers carry the PII the anonymization notebook works on; orders,
items and reviews give the query and search notebooks something real to chew on.
Staff are ordinary `auth.User`s with groups, so permission and flag targeting are real."""

from __future__ import annotations

from workshop.django_setup import require_setup

# A module that defines models cannot wait: Django needs its settings to build the classes.
# `from workshop.shop import Customer` is the lazy way in (workshop/shop/__init__.py).
require_setup()  # a notebook cell run before the set-up cell: say what to run

from django.db import models  # noqa: E402


class Gender(models.TextChoices):
    FEMALE = "F", "female"
    MALE = "M", "male"
    OTHER = "X", "other / not given"


class Customer(models.Model):
    first_name = models.CharField(max_length=60)
    last_name = models.CharField(max_length=60)
    email = models.EmailField(max_length=254, unique=True)
    phone = models.CharField(max_length=32)
    # A national identifier in the US SSN format, drawn from the 9xx area that is never issued.
    national_id = models.CharField(max_length=11, unique=True)
    birth_date = models.DateField()
    gender = models.CharField(max_length=1, choices=Gender.choices)
    street_address = models.CharField(max_length=120)
    city = models.CharField(max_length=60)
    state = models.CharField(max_length=2)
    zip_code = models.CharField(max_length=10)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["zip_code"]), models.Index(fields=["last_name", "first_name"])]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name} <{self.email}>"


class Category(models.Model):
    name = models.CharField(max_length=60, unique=True)
    slug = models.SlugField(max_length=60, unique=True)

    class Meta:
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    sku = models.CharField(max_length=20, unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField()
    brand = models.CharField(max_length=60)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    price = models.DecimalField(max_digits=10, decimal_places=2)
    stock = models.PositiveIntegerField()
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.title


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        PAID = "paid"
        SHIPPED = "shipped"
        DELIVERED = "delivered"
        CANCELLED = "cancelled"
        REFUNDED = "refunded"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="orders")
    status = models.CharField(max_length=10, choices=Status.choices)
    created_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"Order #{self.pk} ({self.status})"


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="order_items")
    quantity = models.PositiveSmallIntegerField()
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product_id}"


class Review(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="reviews")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="reviews")
    rating = models.PositiveSmallIntegerField()
    title = models.CharField(max_length=120)
    body = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(rating__gte=1, rating__lte=5), name="review_rating_1_to_5")
        ]

    def __str__(self) -> str:
        return f"{self.rating}* {self.title}"


class Dataset(models.Model):
    """What is loaded. Written in the same transaction as the rows, so a row here means
    the load completed: a half-loaded database is never reported as ready."""

    size = models.CharField(max_length=20)
    seed = models.IntegerField()
    generator_version = models.IntegerField()
    row_counts = models.JSONField()
    loaded_at = models.DateTimeField(auto_now_add=True)
    load_seconds = models.FloatField()

    def __str__(self) -> str:
        return f"{self.size} dataset (seed {self.seed})"
