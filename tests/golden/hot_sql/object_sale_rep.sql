SELECT sales_records.id 
FROM sales_records JOIN outlets AS seller ON seller.id = sales_records.seller_id JOIN outlets AS buyer ON buyer.id = sales_records.buyer_id 
WHERE sales_records.id = %(ident)s::BIGINT AND (seller.rep_id = %(scope_uid)s::INTEGER OR seller.created_by_id = %(scope_uid)s::INTEGER OR buyer.rep_id = %(scope_uid)s::INTEGER OR buyer.created_by_id = %(scope_uid)s::INTEGER)