-- The floor under bench/redemption_txn.sql: only the one row that every redemption shares
-- (the automatic promotion's campaign counters), guarded and incremented, then COMMIT. Its
-- rate at 16 clients is what any redemption that updates that row can reach on this machine:
-- each one waits for the one before to commit, WAL flush included.
-- Run by bench/redemptions.py (--pgbench-variants shared_row).

\set promo_off 700

BEGIN;
UPDATE promotions_campaign
   SET redemptions_count = redemptions_count + 1, discount_given = discount_given + :promo_off
 WHERE id = :promo AND (max_redemptions IS NULL OR redemptions_count < max_redemptions)
   AND (budget IS NULL OR budget >= discount_given + :promo_off);
END;
