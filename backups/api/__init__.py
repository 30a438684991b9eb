"""The JSON API, `/api/v1/` (Django REST framework): token authentication, the dashboard's
roles, the dashboard's validation layer and services, one error shape, an OpenAPI 3 schema."""
