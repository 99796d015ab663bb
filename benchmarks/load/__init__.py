"""The load test (`make bench-load`): locust users holding realistic web chat conversations."""
