"""How a dead letter's send is retried, the same for the worker and `churnwatch notify`.

A dead letter is the record that nothing was lost; a broker that is briefly away (a leader
election, a restart) must not turn it into a loss, so its send is retried with backoff before the
caller counts it as failed.
"""

from __future__ import annotations

from tenacity import AsyncRetrying, stop_after_attempt, wait_exponential

DEAD_LETTER_ATTEMPTS = 5


def dead_letter_retrying() -> AsyncRetrying:
    """The retry loop of one dead letter's send: 5 attempts, 0.2 s doubling up to 5 s, re-raised."""
    return AsyncRetrying(
        stop=stop_after_attempt(DEAD_LETTER_ATTEMPTS),
        wait=wait_exponential(multiplier=0.2, max=5.0),
        reraise=True,
    )
