"""What the bot knows of people and messages: contacts, phone numbers, messages, consent."""
