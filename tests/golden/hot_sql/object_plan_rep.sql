SELECT sales_plans.id 
FROM sales_plans JOIN outlets AS plan_distributor ON plan_distributor.id = sales_plans.distributor_id 
WHERE sales_plans.id = %(ident)s::BIGINT AND (plan_distributor.rep_id = %(scope_uid)s::INTEGER OR plan_distributor.created_by_id = %(scope_uid)s::INTEGER)