"""``churnwatch notify``: alerts from the alerts topic delivered to HTTP webhooks (README: Notifications)."""
