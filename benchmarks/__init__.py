"""Benchmarks, load and attack generators, and the fake chat platforms they and the tests
use: offline tooling (requirements/dev.txt), never imported by the runtime packages. Each
benchmark runs as ``python -m benchmarks.<name>``; `make help` lists their targets."""
