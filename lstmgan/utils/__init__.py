"""Small shared helpers: atomic outputs, logging, seeding, cached weights."""
