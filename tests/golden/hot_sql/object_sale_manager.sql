WITH RECURSIVE managed_regions_seller(id) AS 
(SELECT user_regions.region_id AS id 
FROM user_regions 
WHERE user_regions.user_id = %(scope_uid)s::INTEGER UNION SELECT managed_regions_seller_child.id AS id 
FROM regions AS managed_regions_seller_child, managed_regions_seller 
WHERE managed_regions_seller_child.parent_id = managed_regions_seller.id), 
managed_regions_buyer(id) AS 
(SELECT user_regions.region_id AS id 
FROM user_regions 
WHERE user_regions.user_id = %(scope_uid)s::INTEGER UNION SELECT managed_regions_buyer_child.id AS id 
FROM regions AS managed_regions_buyer_child, managed_regions_buyer 
WHERE managed_regions_buyer_child.parent_id = managed_regions_buyer.id)
 SELECT sales_records.id 
FROM sales_records LEFT OUTER JOIN outlets AS seller ON seller.id = sales_records.seller_id JOIN outlets AS buyer ON buyer.id = sales_records.buyer_id 
WHERE sales_records.id = %(ident)s::BIGINT AND (seller.region_id IN (SELECT managed_regions_seller.id 
FROM managed_regions_seller) OR buyer.region_id IN (SELECT managed_regions_buyer.id 
FROM managed_regions_buyer))