"""A Twilio-compatible Messages API on loopback."""
