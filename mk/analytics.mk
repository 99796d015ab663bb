# Conversation analytics (issue 17): the agent console's page /agent/analytics
# (docs/analytics.md), and demo traffic so that a fresh install has something to show there.

DEMO_TRAFFIC_ARGS ?=

.PHONY: demo-traffic
demo-traffic: install ## Fill a running install (`make run`) with 300 realistic conversations for /agent/analytics; AGENT_DEMO_PASSWORD: the demo agent answers handoffs
	$(PY) -m demo.traffic $(DEMO_TRAFFIC_ARGS)
