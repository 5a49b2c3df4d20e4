"""Lambda functions: thin handlers over the smscore layer."""
