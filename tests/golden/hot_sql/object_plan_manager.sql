WITH RECURSIVE managed_regions_plan_distributor(id) AS 
(SELECT user_regions.region_id AS id 
FROM user_regions 
WHERE user_regions.user_id = %(scope_uid)s::INTEGER UNION SELECT managed_regions_plan_distributor_child.id AS id 
FROM regions AS managed_regions_plan_distributor_child, managed_regions_plan_distributor 
WHERE managed_regions_plan_distributor_child.parent_id = managed_regions_plan_distributor.id)
 SELECT sales_plans.id 
FROM sales_plans JOIN outlets AS plan_distributor ON plan_distributor.id = sales_plans.distributor_id 
WHERE sales_plans.id = %(ident)s::BIGINT AND plan_distributor.region_id IN (SELECT managed_regions_plan_distributor.id 
FROM managed_regions_plan_distributor)