"""Services: plain functions on a SQLAlchemy Session, no Flask inside."""
