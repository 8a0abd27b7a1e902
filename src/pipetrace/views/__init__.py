"""Views render a Trace; they never compute what the trace does not hold."""
