DROP TRIGGER IF EXISTS trg_distributor_territories_stale ON distributor_territories;
DROP FUNCTION IF EXISTS geo_crm_territory_distances_stale();
