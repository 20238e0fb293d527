SELECT count(*) AS count_1 
FROM outlets 
WHERE outlets.location IS NOT NULL