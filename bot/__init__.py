"""The running bot: domain, storage, delivery and conversation; config, runtime, jobs, worker."""
