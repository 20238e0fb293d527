-- 0022: what every geotag writes, cut to what earns its keep (see the migration's docstring).

-- geotag_events: indexes no query reads. Every read of the table goes by id (primary key), by
-- outlet (ix_geotag_events_outlet_id: history, track, last live tag), by state = 'flagged'
-- (the review queue's partial index) or by user (the foreign keys' ON DELETE SET NULL). None
-- searches the old or new location in space, and none orders or filters by created_at alone.
DROP INDEX ix_geotag_events_new_location;
DROP INDEX ix_geotag_events_old_location;
DROP INDEX ix_geotag_events_created_at;

-- the reviewer is set on a reviewed tag only: the index that serves users' ON DELETE SET NULL
-- (WHERE reviewed_by_id = $1, which implies IS NOT NULL) need not hold a NULL for every tag
DROP INDEX ix_geotag_events_reviewed_by_id;
CREATE INDEX ix_geotag_events_reviewed_by_id ON geotag_events (reviewed_by_id)
  WHERE reviewed_by_id IS NOT NULL;

-- A stored point: both coordinates finite and in range. The column's type admits only a 2-D
-- POINT, and such a point is valid whenever its coordinates are numbers, so ST_IsValid (a
-- conversion to GEOS for every row written) guarded nothing; ST_X of an empty point is NULL,
-- which IS TRUE refuses as NOT ST_IsEmpty did; NaN and infinities fail abs(...) <= limit.
ALTER TABLE outlets DROP CONSTRAINT outlet_location_valid,
  ADD CONSTRAINT outlet_location_valid CHECK (
    location IS NULL OR (abs(ST_X(location)) <= 180 AND abs(ST_Y(location)) <= 90) IS TRUE);
ALTER TABLE geotag_events DROP CONSTRAINT geotag_old_location_valid,
  ADD CONSTRAINT geotag_old_location_valid CHECK (
    old_location IS NULL
    OR (abs(ST_X(old_location)) <= 180 AND abs(ST_Y(old_location)) <= 90) IS TRUE),
  DROP CONSTRAINT geotag_new_location_valid,
  ADD CONSTRAINT geotag_new_location_valid CHECK (
    new_location IS NULL
    OR (abs(ST_X(new_location)) <= 180 AND abs(ST_Y(new_location)) <= 90) IS TRUE);
