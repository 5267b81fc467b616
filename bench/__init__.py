"""Fan-out benchmark: livewatch against a naive aiohttp reference, driven by one load generator.

Run it with ``make bench`` (or ``python -m bench --help``). Everything stays on loopback and
every phase is bounded in count and time.
"""
