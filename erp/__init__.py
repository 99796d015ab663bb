"""ERP data layer: SQLAlchemy models, typed queries, identifier parsing and demo data."""
