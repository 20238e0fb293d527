SELECT count(*) AS count_1 
FROM outlets 
WHERE outlets.tier = ANY (%(tier)s::TEXT[]) AND outlets.status = ANY (%(status)s::TEXT[])