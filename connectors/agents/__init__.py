"""Human agents: accounts and sessions, the web console, the Slack agent channel, the CLI.

Usage::

    from connectors.agents.auth import AgentAuth
    from connectors.agents.settings import AgentSettings

    auth = AgentAuth(store, AgentSettings.from_env())
    auth.add_agent("alice", "a long passphrase")
"""
