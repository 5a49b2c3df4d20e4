"""The deliver Lambda function."""
