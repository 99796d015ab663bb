"""Declarative mappings from the assistant's concepts to a company's own ERP schema."""
