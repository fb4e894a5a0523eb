"""The email channel: IMAP in, SMTP out (see adapter.py)."""
