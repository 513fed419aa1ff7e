"""The running bot, by concern: domain, conversation, storage, delivery; config and runtime."""
