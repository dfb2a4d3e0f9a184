"""Hold and finish (settle or release) as database functions: one round trip each, and no
Python work while the packs are locked (see billing/services/quota.py and docs/BILLING.md).

The functions do exactly what the ORM code did: lock the live packs in (expires_at, id)
order, write one append-only ledger row per change and apply the same deltas to the pack's
running totals in the same transaction; the check constraints still refuse a negative
balance whatever happens.
"""

from django.db import migrations

FUNCTIONS = """
CREATE OR REPLACE FUNCTION billing_quota_hold(
    p_user bigint, p_listing bigint, p_tokens bigint, p_request text, p_sync text,
    OUT o_hold_id bigint, OUT o_available bigint
) LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := now();
    v_remaining bigint := p_tokens;
    v_take bigint;
    r record;
BEGIN
    -- LEDGER_SYNCHRONOUS_COMMIT, for this transaction only (docs/BILLING.md).
    PERFORM set_config('synchronous_commit', p_sync, true);
    -- Lock every live pack of this customer and model, soonest expiry first.
    SELECT COALESCE(SUM(locked.available), 0) INTO o_available FROM (
        SELECT p.available FROM billing_quotapack p
        WHERE p.user_id = p_user AND p.listing_id = p_listing
          AND p.closed_at IS NULL AND p.expires_at > v_now
        ORDER BY p.expires_at, p.id
        FOR UPDATE
    ) locked;
    IF o_available < p_tokens THEN
        o_hold_id := NULL;  -- refused: nothing written
        RETURN;
    END IF;
    INSERT INTO billing_quotahold (request_id, user_id, listing_id, tokens, status, created_at)
    VALUES (p_request, p_user, p_listing, p_tokens, 'held', v_now)
    RETURNING id INTO o_hold_id;
    FOR r IN
        SELECT p.id, p.available FROM billing_quotapack p
        WHERE p.user_id = p_user AND p.listing_id = p_listing
          AND p.closed_at IS NULL AND p.expires_at > v_now AND p.available > 0
        ORDER BY p.expires_at, p.id
    LOOP
        EXIT WHEN v_remaining = 0;
        v_take := LEAST(r.available, v_remaining);
        UPDATE billing_quotapack SET available = available - v_take, held = held + v_take
        WHERE id = r.id;
        INSERT INTO billing_quotaledgerentry
            (pack_id, kind, reason, available_delta, held_delta, hold_id, created_at)
        VALUES (r.id, 'hold', '', -v_take, v_take, o_hold_id, v_now);
        v_remaining := v_remaining - v_take;
    END LOOP;
    o_available := o_available - p_tokens;
END;
$$;

-- 1: finished now; 0: it had finished before (a retry, nothing changes); -1: no such hold.
CREATE OR REPLACE FUNCTION billing_quota_finish(
    p_request text, p_used bigint, p_status text, p_sync text
) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := now();
    v_hold record;
    v_to_debit bigint;
    v_debit bigint;
    v_rest bigint;
    v_left bigint;
    r record;
BEGIN
    PERFORM set_config('synchronous_commit', p_sync, true);
    SELECT h.id, h.tokens, h.status INTO v_hold FROM billing_quotahold h
    WHERE h.request_id = p_request FOR UPDATE;
    IF NOT FOUND THEN
        RETURN -1;
    END IF;
    IF v_hold.status <> 'held' THEN
        RETURN 0;
    END IF;
    v_to_debit := CASE WHEN p_status = 'settled' THEN LEAST(p_used, v_hold.tokens) ELSE 0 END;
    FOR r IN
        SELECT p.id, p.closed_at, p.expires_at, o.status AS order_status, per_pack.held
        FROM (
            SELECT e.pack_id, SUM(e.held_delta) AS held FROM billing_quotaledgerentry e
            WHERE e.hold_id = v_hold.id GROUP BY e.pack_id
        ) per_pack
        JOIN billing_quotapack p ON p.id = per_pack.pack_id
        JOIN billing_order o ON o.id = p.order_id
        WHERE per_pack.held > 0
        ORDER BY p.expires_at, p.id
        FOR UPDATE OF p
    LOOP
        v_debit := LEAST(r.held, v_to_debit);
        IF v_debit > 0 THEN
            UPDATE billing_quotapack SET held = held - v_debit WHERE id = r.id;
            INSERT INTO billing_quotaledgerentry
                (pack_id, kind, reason, available_delta, held_delta, hold_id, created_at)
            VALUES (r.id, 'debit', '', 0, -v_debit, v_hold.id, v_now);
            v_to_debit := v_to_debit - v_debit;
        END IF;
        v_rest := r.held - v_debit;
        IF v_rest > 0 THEN
            UPDATE billing_quotapack SET held = held - v_rest, available = available + v_rest
            WHERE id = r.id RETURNING available INTO v_left;
            INSERT INTO billing_quotaledgerentry
                (pack_id, kind, reason, available_delta, held_delta, hold_id, created_at)
            VALUES (r.id, 'release', '', v_rest, -v_rest, v_hold.id, v_now);
            IF r.closed_at IS NOT NULL OR r.expires_at <= v_now THEN
                -- Released into a pack that no longer counts: written off at once.
                IF v_left > 0 THEN
                    UPDATE billing_quotapack SET available = 0 WHERE id = r.id;
                    INSERT INTO billing_quotaledgerentry
                        (pack_id, kind, reason, available_delta, held_delta, hold_id, created_at)
                    VALUES (
                        r.id,
                        CASE WHEN r.order_status = 'refunded' THEN 'refund' ELSE 'expire' END,
                        '', -v_left, 0, NULL, v_now
                    );
                END IF;
                IF r.closed_at IS NULL THEN
                    UPDATE billing_quotapack SET closed_at = v_now WHERE id = r.id;
                END IF;
            END IF;
        END IF;
    END LOOP;
    UPDATE billing_quotahold
    SET status = p_status,
        used_tokens = CASE WHEN p_status = 'settled' THEN LEAST(p_used, v_hold.tokens) ELSE 0 END,
        finished_at = v_now
    WHERE id = v_hold.id;
    RETURN 1;
END;
$$;
"""

DROP = """
DROP FUNCTION IF EXISTS billing_quota_hold(bigint, bigint, bigint, text, text);
DROP FUNCTION IF EXISTS billing_quota_finish(text, bigint, text, text);
"""


class Migration(migrations.Migration):
    dependencies = [("billing", "0003_order_cancelled_and_disputed")]

    operations = [migrations.RunSQL(FUNCTIONS, DROP)]
