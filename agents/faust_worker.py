"""The Faust worker class churnwatch runs: Faust's own, minus the terminal spinner.

Faust's spinner sets the root logger to DEBUG (so that every log record spins it) whenever the
log level is WARN or above. Every ``log.debug`` in aiokafka and Faust then builds a record on the
hot path: about a tenth of a worker's time per event. churnwatch keeps the root logger at the
level asked for.
"""

from __future__ import annotations

import logging

import faust


class Worker(faust.Worker):
    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        self.spinner = None
