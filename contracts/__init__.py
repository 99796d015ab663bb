"""What crosses a process boundary, imported by the side that builds it and the side that reads
it: typed payloads (turn metadata, handoff requests, answer drafts, citations, charts) and the
log contract (contracts/redaction.py: the same conversation tag and the same personal data
kept out, in the gateway's logs and the action server's)."""
