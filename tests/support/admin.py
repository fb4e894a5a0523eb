"""Constants shared by the test tiers."""

ADMIN_PASSWORD = "admin-password-1"
