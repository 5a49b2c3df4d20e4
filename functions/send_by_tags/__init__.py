"""The send_by_tags Lambda function."""
