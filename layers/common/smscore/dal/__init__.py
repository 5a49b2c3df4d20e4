"""Data access: PynamoDB models bound at run time to the tables template.yaml declares, and the adapters."""
