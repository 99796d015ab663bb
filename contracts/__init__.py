"""What crosses a process boundary, imported by the side that builds it and the side that reads
it: typed payloads (turn metadata, handoff requests, answer drafts, citations, charts), the log
line both processes write (logs.py, redaction.py: the same conversation tag, the same personal
data kept out) and the bearer-token check their HTTP endpoints share (auth.py)."""
