-- 0022 undone: 0001's point checks and geotag_events indexes.
ALTER TABLE outlets DROP CONSTRAINT outlet_location_valid,
  ADD CONSTRAINT outlet_location_valid CHECK (
    location IS NULL OR (NOT ST_IsEmpty(location) AND ST_IsValid(location)
    AND ST_X(location) BETWEEN -180 AND 180 AND ST_Y(location) BETWEEN -90 AND 90));
ALTER TABLE geotag_events DROP CONSTRAINT geotag_old_location_valid,
  ADD CONSTRAINT geotag_old_location_valid CHECK (
    old_location IS NULL OR (NOT ST_IsEmpty(old_location) AND ST_IsValid(old_location)
    AND ST_X(old_location) BETWEEN -180 AND 180 AND ST_Y(old_location) BETWEEN -90 AND 90)),
  DROP CONSTRAINT geotag_new_location_valid,
  ADD CONSTRAINT geotag_new_location_valid CHECK (
    new_location IS NULL OR (NOT ST_IsEmpty(new_location) AND ST_IsValid(new_location)
    AND ST_X(new_location) BETWEEN -180 AND 180 AND ST_Y(new_location) BETWEEN -90 AND 90));

DROP INDEX ix_geotag_events_reviewed_by_id;
CREATE INDEX ix_geotag_events_reviewed_by_id ON geotag_events (reviewed_by_id);
CREATE INDEX ix_geotag_events_created_at ON geotag_events (created_at);
CREATE INDEX ix_geotag_events_old_location ON geotag_events USING gist (old_location);
CREATE INDEX ix_geotag_events_new_location ON geotag_events USING gist (new_location);
