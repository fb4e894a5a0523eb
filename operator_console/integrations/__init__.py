"""Integrations: API tokens, signed event webhooks and the realtime API."""
