"""What the offline commands (replay, fit, backtest) share: failing, settings, dates, the model."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import click

from agents.engine_setup import engine_config_of, limits_of
from agents.settings import Clock, Settings, SettingsError, load_settings
from rules.engine import EngineConfig
from rules.model import BuyingModel


def fail(message: str, code: int = 2) -> NoReturn:
    click.echo(f"churnwatch: {message}", err=True)
    sys.exit(code)


def settings_or_fail() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        fail(str(exc))


def model_or_fail(path: Path | None, settings: Settings) -> BuyingModel | None:
    """``--model FILE``, else ``CHURNWATCH_MODEL``, else no model."""
    from agents.model_file import ModelError, load_model

    chosen = path or settings.model
    if chosen is None:
        return None
    try:
        return load_model(chosen)
    except ModelError as exc:
        fail(str(exc))


def parse_date(text: str) -> float:
    """``1997-09-30`` (00:00 UTC) or an RFC 3339 time, as epoch seconds."""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a date (YYYY-MM-DD) or an RFC 3339 time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def offline_config(settings: Settings, tick_seconds: float | None, model: BuyingModel | None) -> EngineConfig:
    """The offline commands run the event clock."""
    return engine_config_of(settings, model=model, tick_seconds=tick_seconds, clock=Clock.EVENT)


__all__ = ["engine_config_of", "fail", "limits_of", "model_or_fail", "offline_config", "parse_date", "settings_or_fail"]
