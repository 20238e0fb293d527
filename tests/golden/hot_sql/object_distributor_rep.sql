WITH RECURSIVE rep_chain_outlets(id, parent_id) AS 
(SELECT outlets.id AS id, outlets.parent_id AS parent_id 
FROM outlets 
WHERE outlets.rep_id = %(scope_uid)s::INTEGER OR outlets.created_by_id = %(scope_uid)s::INTEGER UNION SELECT rep_chain_outlets_parent.id AS id, rep_chain_outlets_parent.parent_id AS parent_id 
FROM outlets AS rep_chain_outlets_parent, rep_chain_outlets 
WHERE rep_chain_outlets_parent.id = rep_chain_outlets.parent_id)
 SELECT outlets.id 
FROM outlets 
WHERE outlets.code = %(ref)s::VARCHAR AND (outlets.rep_id = %(scope_uid)s::INTEGER OR outlets.created_by_id = %(scope_uid)s::INTEGER OR outlets.tier = %(tier_1)s::VARCHAR AND outlets.id IN (SELECT rep_chain_outlets.id 
FROM rep_chain_outlets))