"""Services by sub-domain: what views, forms and commands call to change things."""
