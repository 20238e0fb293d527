SELECT sales_plans.id 
FROM sales_plans JOIN outlets AS plan_distributor ON plan_distributor.id = sales_plans.distributor_id 
WHERE sales_plans.id = %(ident)s::BIGINT