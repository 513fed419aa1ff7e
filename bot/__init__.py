"""The running bot: config, store, conversation runner, compliance, outbound, CLI."""
