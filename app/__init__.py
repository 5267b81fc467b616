"""livewatch: live events and host monitoring for an application, over WebSocket and Prometheus."""

__version__ = "0.1.0"
