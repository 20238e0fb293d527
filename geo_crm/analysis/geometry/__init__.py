"""Pure geometry (no database, no geo_crm imports): disc union, hexagon grid, geodesy."""
