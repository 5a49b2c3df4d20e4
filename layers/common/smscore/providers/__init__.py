"""SMS providers: one interface (base.SmsProvider), one module per provider."""
