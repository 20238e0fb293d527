DROP TRIGGER IF EXISTS trg_distributor_territory_parts ON distributor_territories;
DROP FUNCTION IF EXISTS geo_crm_territory_parts();
