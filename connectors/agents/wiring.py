"""The agent side put together for the gateway: auth, console routes, Slack agent channel.

gateway.py builds it once the handoff queue exists, adds its routes and runs its lifespan::

    agents = AgentSide.build(store, queue, slack=slack, turns=turns)
    routes += agents.routes()
    await agents.start()  # in the lifespan; agents.stop() on the way out
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from starlette.routing import BaseRoute

from connectors.agents.ask import ConsoleAsk
from connectors.agents.auth import AgentAuth
from connectors.agents.canned import CannedReplies, load_defaults
from connectors.agents.console import AgentConsole
from connectors.agents.settings import AgentSettings
from connectors.analytics.http import AnalyticsPages
from connectors.analytics.service import AnalyticsService
from connectors.channels.slack import SlackChannel
from connectors.channels.slack_agents import SlackAgentChannel
from connectors.handoff.queue import HandoffQueue
from connectors.store import GatewayStore
from connectors.turns import Turns

logger = logging.getLogger("connectors")


@dataclass
class AgentSide:
    """Everything agents use, sharing the gateway's store and handoff queue."""

    settings: AgentSettings
    auth: AgentAuth
    canned: CannedReplies
    console: AgentConsole
    slack: SlackAgentChannel | None
    analytics: AnalyticsService | None = None

    @classmethod
    def build(
        cls,
        store: GatewayStore,
        queue: HandoffQueue,
        *,
        slack: SlackChannel | None,
        turns: Turns | None = None,
        settings: AgentSettings | None = None,
        analytics: AnalyticsService | None = None,
    ) -> AgentSide:
        """Build the agent side and wire the queue's online count to the agents' presence.

        With ``turns`` (the gateway's turn path) the console has its Ask panel, where agents
        talk to the assistant as staff; with ``analytics`` it has the analytics page (admin
        and support roles).

        The Slack agent channel is built when SLACK_AGENT_CHANNEL is set and the Slack
        channel runs; it then takes every event from that Slack channel.

        Raises:
            SettingsError: an agent setting in the environment cannot be used.
        """
        settings = settings or AgentSettings.from_env()
        auth = AgentAuth(store, settings)
        queue.agents_online = auth.agents_online
        queue.public_name = auth.public_name
        canned = CannedReplies(store)
        agents_channel = None
        if settings.slack_agent_channel and slack is None:
            logger.info("slack agent channel disabled: the Slack channel is not configured")
        elif settings.slack_agent_channel and slack is not None:
            agents_channel = SlackAgentChannel(
                settings, store=store, queue=queue, auth=auth, client=slack.client
            )
            slack.agents = agents_channel
        ask = ConsoleAsk(auth, turns) if turns is not None else None
        pages = AnalyticsPages(auth, analytics) if analytics is not None else None
        console = AgentConsole(auth, queue, canned, ask=ask, analytics=pages)
        return cls(settings, auth, canned, console, agents_channel, analytics)

    def routes(self) -> list[BaseRoute]:
        """The console's page and API under /agent."""
        return self.console.routes()

    async def start(self) -> None:
        """Load the canned-reply defaults and start the Slack agent channel."""
        try:
            self.canned.replace_defaults(load_defaults(self.settings.canned_replies_file))
        except (OSError, ValueError) as error:
            # The console still works with the defaults loaded last time.
            logger.error("canned replies not loaded: %s", error)
        if self.slack is not None:
            await self.slack.start()
        count = len(self.auth.list_agents())
        logger.info(
            "agent console ready at /agent (%d agent%s%s)", count, "" if count == 1 else "s",
            "" if count else "; add one: python -m connectors agents add <username>",
        )  # fmt: skip

    async def stop(self) -> None:
        """Stop the Slack agent channel; close the analytics' connections."""
        if self.slack is not None:
            await self.slack.stop()
        if self.analytics is not None:
            self.analytics.close()
