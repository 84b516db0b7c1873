"""The HTTP routes, one router per concern; none imports another."""
