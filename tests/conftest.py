"""Fixtures and settings shared by every test.

The local services (Kafka, Redis) are started only when an integration test asks for them: see
``tests/integration/conftest.py``. Unit tests need nothing but the venv.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

# shared machines are noisy: no per-example deadline, no "too slow" failures
settings.register_profile("churnwatch", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("churnwatch")
