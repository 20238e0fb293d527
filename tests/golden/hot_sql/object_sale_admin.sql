SELECT sales_records.id 
FROM sales_records LEFT OUTER JOIN outlets AS seller ON seller.id = sales_records.seller_id JOIN outlets AS buyer ON buyer.id = sales_records.buyer_id 
WHERE sales_records.id = %(ident)s::BIGINT AND true