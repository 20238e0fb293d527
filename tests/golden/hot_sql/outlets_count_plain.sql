SELECT count(*) AS count_1 
FROM outlets