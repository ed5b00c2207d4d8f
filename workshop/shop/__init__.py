"""The shop: one dataset shared by every notebook (customers, staff, products, orders, reviews)."""
