"""Operating the platform: alerts to the channels a team uses, incidents, metrics."""
