"""``make demo-traffic``: a few hundred realistic conversations through a running gateway's REST
API, so the agent console's analytics page has something to show.

- ``plan``: who says what, deterministic for a seed (no network);
- ``gateway``: talking to the gateway as customers (within its rate limits) and as the demo
  agent who answers the handoffs through the console API;
- ``__main__``: the command line.
"""
