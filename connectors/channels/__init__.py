"""The channels: each turns its platform's payloads into IncomingMessages and renders replies.

Every channel sends messages through ``connectors.turns.Turns``; a channel whose secrets are
missing is not built at all (gateway.py logs one line saying why).
"""
