"""The web console: pages, security and browser journeys (engine/console)."""
