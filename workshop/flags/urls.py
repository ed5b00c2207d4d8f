from django.urls import path

from workshop.flags import views

urlpatterns = [path("products/<int:product_id>/", views.product_page, name="product")]
