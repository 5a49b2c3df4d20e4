"""Shared package of the SMS-by-tags service: API models, domain logic, data access and providers."""
