"""Webhooks: signed deliveries of platform events to client URLs, retried through the queue."""
