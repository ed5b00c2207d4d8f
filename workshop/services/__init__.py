"""The services the workshop talks to: PostgreSQL always, Elasticsearch where search needs it."""
