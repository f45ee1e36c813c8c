-- A redemption's write transaction, written by hand: the statements promotions/redemptions.py
-- sends after its quote (which reads, before the transaction), in the same order, as the
-- same SQL text: the guarded voucher UPDATE, the customer's usage upserts (one per campaign,
-- guarded by the per-customer limits), the redemption and its lines, the day statistics
-- (one slice per connection, as the service takes one per web process), and last the
-- guarded campaign counters. Run by bench/redemptions.py:
--
--   pgbench -n -M simple -c 16 -j 2 -T 60 -D first=N -D clients=16 -D customers=C \
--           -D promo=ID -D shipping=ID -D k=0 -f bench/redemption_txn.sql DBNAME
--
-- Transaction k of client i redeems voucher n = first + i + clients * (k - 1) for customer
-- 1 + (n - 1) % customers with a cart of 1 + n % 3 items, as request n does over HTTP: the
-- 10% promotion (every order), free shipping (2 items or more) and the voucher's coupon
-- campaign are applied, in campaign id order (the promotions were made first). The slice of
-- the day statistics is the client's (client_id % 16): each connection has its own, as each
-- gunicorn worker has its own (its pid % 16). Amounts follow the HTTP bodies roughly; the
-- cost does not depend on them.

\set k :k + 1
\set n :first + :client_id + :clients * (:k - 1)
\set c 1 + (:n - 1) % :customers
\set items 1 + :n % 3
\set slice :client_id % 16
\set p0 3000 + ((1 + (:n * 7) % 50) % 10) * 500
\set p1 3000 + ((1 + (:n * 7 + 13) % 50) % 10) * 500
\set p2 3000 + ((1 + (:n * 7 + 26) % 50) % 10) * 500
\set a1 CASE WHEN :items >= 2 THEN :p1 ELSE 0 END
\set a2 CASE WHEN :items >= 3 THEN :p2 ELSE 0 END
\set amount :p0 + :a1 + :a2
\set promo_off least(:amount / 10, 5000)
\set ship_off CASE WHEN :items >= 2 THEN 495 ELSE 0 END
\set coupon_off 500 * (1 + (:n - 1) % 4)
\set total :amount + 495 - :promo_off - :ship_off - :coupon_off

BEGIN;

-- The voucher (by id).
UPDATE promotions_voucher SET redemptions_count = redemptions_count + 1
 WHERE id = :n AND (max_redemptions IS NULL OR redemptions_count < max_redemptions)
 RETURNING campaign_id AS coupon \gset

-- The customer's usage, by campaign id: promotions without per-customer limits (NULL), the
-- coupon campaign at most 5 per customer.
INSERT INTO promotions_customerusage AS u (campaign_id, customer_id, redemptions, day, day_redemptions)
VALUES (:promo, :c, 1, (now() AT TIME ZONE 'UTC')::date, 1)
ON CONFLICT (customer_id, campaign_id) DO UPDATE SET redemptions = u.redemptions + 1,
    day_redemptions = CASE WHEN u.day = excluded.day THEN u.day_redemptions + 1 ELSE 1 END,
    day = excluded.day
WHERE (NULL IS NULL OR u.redemptions < NULL)
  AND (NULL IS NULL OR u.day IS NULL OR u.day <> excluded.day OR u.day_redemptions < NULL);
\if :items >= 2
INSERT INTO promotions_customerusage AS u (campaign_id, customer_id, redemptions, day, day_redemptions)
VALUES (:shipping, :c, 1, (now() AT TIME ZONE 'UTC')::date, 1)
ON CONFLICT (customer_id, campaign_id) DO UPDATE SET redemptions = u.redemptions + 1,
    day_redemptions = CASE WHEN u.day = excluded.day THEN u.day_redemptions + 1 ELSE 1 END,
    day = excluded.day
WHERE (NULL IS NULL OR u.redemptions < NULL)
  AND (NULL IS NULL OR u.day IS NULL OR u.day <> excluded.day OR u.day_redemptions < NULL);
\endif
INSERT INTO promotions_customerusage AS u (campaign_id, customer_id, redemptions, day, day_redemptions)
VALUES (:coupon, :c, 1, (now() AT TIME ZONE 'UTC')::date, 1)
ON CONFLICT (customer_id, campaign_id) DO UPDATE SET redemptions = u.redemptions + 1,
    day_redemptions = CASE WHEN u.day = excluded.day THEN u.day_redemptions + 1 ELSE 1 END,
    day = excluded.day
WHERE (5 IS NULL OR u.redemptions < 5)
  AND (NULL IS NULL OR u.day IS NULL OR u.day <> excluded.day OR u.day_redemptions < NULL);

-- The redemption and its lines: the service's INSERTs written once per process (one row,
-- then every line in one VALUES list), ids returned.
INSERT INTO "promotions_redemption" ("customer_id", "customer_source_id", "order_source_id",
    "status", "reason", "currency", "order_amount", "discount_amount", "shipping_discount_amount",
    "gift_card_amount", "total_amount", "test", "client", "idempotency_key", "client_address",
    "created_at", "rolled_back_at", "rollback_reason", "rolled_back_by")
VALUES (:c, 'rc' || lpad(:c::text, 7, '0'), 'rb-o' || :n, 'succeeded', '', 'USD', :amount,
    :promo_off + :coupon_off, :ship_off, 0, :total, false, 'pgbench', '', '127.0.0.1'::inet,
    now(), NULL, '', '')
RETURNING id AS redemption \gset

\if :items >= 2
INSERT INTO "promotions_redemptionline" ("redemption_id", "campaign_id", "voucher_id", "code",
    "succeeded", "reason", "discount_amount", "shipping_discount_amount", "gift_card_amount")
VALUES (:redemption, :promo, NULL, '', true, '', :promo_off, 0, 0),
    (:redemption, :shipping, NULL, '', true, '', 0, :ship_off, 0),
    (:redemption, :coupon, :n, 'R' || (1 + (:n - 1) % 4) || '-'
        || upper(lpad(to_hex((:n::bigint * 2654435761) % 4294967296), 8, '0')),
        true, '', :coupon_off, 0, 0)
RETURNING id;
\else
INSERT INTO "promotions_redemptionline" ("redemption_id", "campaign_id", "voucher_id", "code",
    "succeeded", "reason", "discount_amount", "shipping_discount_amount", "gift_card_amount")
VALUES (:redemption, :promo, NULL, '', true, '', :promo_off, 0, 0),
    (:redemption, :coupon, :n, 'R' || (1 + (:n - 1) % 4) || '-'
        || upper(lpad(to_hex((:n::bigint * 2654435761) % 4294967296), 8, '0')),
        true, '', :coupon_off, 0, 0)
RETURNING id;
\endif

-- The day statistics, this connection's slice, in the order of the applied redeemables
-- (promotions, then the code).
INSERT INTO promotions_campaigndaystats (campaign_id, day, slice, succeeded, failed,
    rolled_back, discount_given, revenue)
VALUES (:promo, (now() AT TIME ZONE 'UTC')::date, :slice, 1, 0, 0, :promo_off, :total)
ON CONFLICT (campaign_id, day, slice) DO UPDATE SET
    succeeded = promotions_campaigndaystats.succeeded + excluded.succeeded,
    failed = promotions_campaigndaystats.failed + excluded.failed,
    rolled_back = promotions_campaigndaystats.rolled_back + excluded.rolled_back,
    discount_given = promotions_campaigndaystats.discount_given + excluded.discount_given,
    revenue = promotions_campaigndaystats.revenue + excluded.revenue;
\if :items >= 2
INSERT INTO promotions_campaigndaystats (campaign_id, day, slice, succeeded, failed,
    rolled_back, discount_given, revenue)
VALUES (:shipping, (now() AT TIME ZONE 'UTC')::date, :slice, 1, 0, 0, :ship_off, :total)
ON CONFLICT (campaign_id, day, slice) DO UPDATE SET
    succeeded = promotions_campaigndaystats.succeeded + excluded.succeeded,
    failed = promotions_campaigndaystats.failed + excluded.failed,
    rolled_back = promotions_campaigndaystats.rolled_back + excluded.rolled_back,
    discount_given = promotions_campaigndaystats.discount_given + excluded.discount_given,
    revenue = promotions_campaigndaystats.revenue + excluded.revenue;
\endif
INSERT INTO promotions_campaigndaystats (campaign_id, day, slice, succeeded, failed,
    rolled_back, discount_given, revenue)
VALUES (:coupon, (now() AT TIME ZONE 'UTC')::date, :slice, 1, 0, 0, :coupon_off, :total)
ON CONFLICT (campaign_id, day, slice) DO UPDATE SET
    succeeded = promotions_campaigndaystats.succeeded + excluded.succeeded,
    failed = promotions_campaigndaystats.failed + excluded.failed,
    rolled_back = promotions_campaigndaystats.rolled_back + excluded.rolled_back,
    discount_given = promotions_campaigndaystats.discount_given + excluded.discount_given,
    revenue = promotions_campaigndaystats.revenue + excluded.revenue;

-- Last, the campaign rows that every redemption of a campaign shares (by id): locked for
-- these statements and the COMMIT only.
UPDATE promotions_campaign SET redemptions_count = redemptions_count + 1,
    discount_given = discount_given + :promo_off
 WHERE id = :promo AND (max_redemptions IS NULL OR redemptions_count < max_redemptions)
   AND (budget IS NULL OR budget >= discount_given + :promo_off);
\if :items >= 2
UPDATE promotions_campaign SET redemptions_count = redemptions_count + 1,
    discount_given = discount_given + :ship_off
 WHERE id = :shipping AND (max_redemptions IS NULL OR redemptions_count < max_redemptions)
   AND (budget IS NULL OR budget >= discount_given + :ship_off);
\endif
UPDATE promotions_campaign SET redemptions_count = redemptions_count + 1,
    discount_given = discount_given + :coupon_off
 WHERE id = :coupon AND (max_redemptions IS NULL OR redemptions_count < max_redemptions)
   AND (budget IS NULL OR budget >= discount_given + :coupon_off);

END;
