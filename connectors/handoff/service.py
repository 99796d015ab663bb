"""The handoff parts the gateway builds from its settings, and their start and stop."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio.to_thread

from connectors.handoff.delivery import Delivery
from connectors.handoff.errors import InvalidHandoffInput
from connectors.handoff.hours import BusinessHours
from connectors.handoff.queue import HandoffQueue, TrackerNotes
from connectors.handoff.sentiment import FrustrationClassifier
from connectors.handoff.triggers import TriggerDetector, load_topics
from connectors.settings import HandoffSettings
from connectors.store import GatewayStore
from envvars import SettingsError

logger = logging.getLogger("connectors")


@dataclass
class Handoff:
    """The queue, the gateway's triggers and the frustration model, built together.

    Example:
        >>> handoff = build_handoff(HandoffSettings(), GatewayStore(":memory:"))
        >>> turns = Turns(store=store, ..., queue=handoff.queue, detector=handoff.detector)
    """

    queue: HandoffQueue
    detector: TriggerDetector
    classifier: FrustrationClassifier
    _warm_up: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def delivery(self) -> Delivery:
        return self.queue.delivery

    async def start(self, rasa: Any) -> None:
        """Connect the queue to Rasa, start retrying deliveries, load the model meanwhile."""
        if all(callable(getattr(rasa, name, None)) for name in ("slots", "append_events")):
            tracker: TrackerNotes = rasa
            self.queue.tracker = tracker
        self.delivery.start()
        await self.queue.relay.start()
        self._warm_up = asyncio.create_task(self._load_model(), name="frustration-model")

    async def stop(self) -> None:
        await self.delivery.stop()
        await self.queue.relay.stop()
        if self._warm_up is not None:
            self._warm_up.cancel()
            await asyncio.gather(self._warm_up, return_exceptions=True)

    async def _load_model(self) -> None:
        try:
            await anyio.to_thread.run_sync(self.classifier.warm_up)
        except Exception:
            # Scoring retries the load on each message and the turn goes on without it.
            logger.exception("frustration model could not be loaded or trained")


def build_handoff(settings: HandoffSettings, store: GatewayStore) -> Handoff | None:
    """The handoff parts for these settings, or None when HANDOFF_ENABLED is false.

    Raises:
        SettingsError: the business hours or the sensitive-topics file cannot be used.
    """
    if not settings.enabled:
        return None
    try:
        hours = BusinessHours.parse(
            settings.business_days, settings.business_hours, settings.timezone, settings.holidays
        )
        topics = load_topics(Path(settings.sensitive_topics))
    except InvalidHandoffInput as error:
        raise SettingsError(error.reason) from None
    classifier = FrustrationClassifier(
        Path(settings.frustration_data), Path(settings.frustration_model)
    )
    detector = TriggerDetector(
        topics,
        frustration=classifier.score,
        threshold=settings.frustration_threshold,
        streak_threshold=settings.frustration_streak_threshold,
    )
    delivery = Delivery(store, base_delay=settings.retry_seconds)
    queue = HandoffQueue(
        store, delivery=delivery, hours=hours, generate_summary=settings.summary == "generator"
    )
    return Handoff(queue=queue, detector=detector, classifier=classifier)
