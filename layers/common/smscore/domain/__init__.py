"""Domain logic: plain functions and small classes, no AWS SDK in sight."""
