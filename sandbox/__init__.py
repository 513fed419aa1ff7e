"""Local stand-ins for development: the Twilio-compatible emulator, the dev server, chat."""
