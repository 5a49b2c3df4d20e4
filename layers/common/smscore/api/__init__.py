"""HTTP edge: request/response models and the single mapping of domain errors to HTTP."""
