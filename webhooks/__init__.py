"""HTTP from machines: Twilio's webhooks and the JSON API for business systems."""
