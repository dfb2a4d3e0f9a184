"""Credit holds and settlements as database functions (one round trip each, as the quota
ones of migration 0004), and the credit ledger append-only in the database itself."""

from django.db import migrations

FUNCTIONS = """
CREATE OR REPLACE FUNCTION billing_credit_hold(
    p_user bigint, p_listing bigint, p_amount bigint, p_request text,
    p_input bigint, p_output bigint, p_sync text,
    OUT o_hold_id bigint, OUT o_available bigint
) LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := now();
    v_account bigint;
BEGIN
    PERFORM set_config('synchronous_commit', p_sync, true);
    SELECT a.id, a.available INTO v_account, o_available FROM billing_creditaccount a
    WHERE a.user_id = p_user FOR UPDATE;
    IF NOT FOUND THEN
        -- A first call (a free model, or a refusal to explain): the account starts empty.
        INSERT INTO billing_creditaccount (user_id, available, held, created_at)
        VALUES (p_user, 0, 0, v_now) ON CONFLICT (user_id) DO NOTHING;
        SELECT a.id, a.available INTO v_account, o_available FROM billing_creditaccount a
        WHERE a.user_id = p_user FOR UPDATE;
    END IF;
    IF o_available < p_amount THEN
        o_hold_id := NULL;  -- refused: nothing written
        RETURN;
    END IF;
    INSERT INTO billing_credithold
        (request_id, account_id, listing_id, amount, input_per_mtok, output_per_mtok, status,
         created_at)
    VALUES (p_request, v_account, p_listing, p_amount, p_input, p_output, 'held', v_now)
    RETURNING id INTO o_hold_id;
    IF p_amount > 0 THEN
        UPDATE billing_creditaccount
        SET available = available - p_amount, held = held + p_amount WHERE id = v_account;
        INSERT INTO billing_creditledgerentry
            (account_id, kind, reason, available_delta, held_delta, hold_id, created_at)
        VALUES (v_account, 'hold', '', -p_amount, p_amount, o_hold_id, v_now);
    END IF;
    o_available := o_available - p_amount;
END;
$$;

-- 1: finished now; 0: it had finished before (nothing changes); -1: no such hold.
CREATE OR REPLACE FUNCTION billing_credit_finish(
    p_request text, p_used bigint, p_status text, p_sync text
) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := now();
    v_hold record;
    v_debit bigint;
    v_rest bigint;
BEGIN
    PERFORM set_config('synchronous_commit', p_sync, true);
    SELECT h.id, h.account_id, h.amount, h.status INTO v_hold FROM billing_credithold h
    WHERE h.request_id = p_request FOR UPDATE;
    IF NOT FOUND THEN
        RETURN -1;
    END IF;
    IF v_hold.status <> 'held' THEN
        RETURN 0;
    END IF;
    v_debit := CASE WHEN p_status = 'settled' THEN LEAST(p_used, v_hold.amount) ELSE 0 END;
    v_rest := v_hold.amount - v_debit;
    PERFORM 1 FROM billing_creditaccount WHERE id = v_hold.account_id FOR UPDATE;
    IF v_debit > 0 THEN
        UPDATE billing_creditaccount SET held = held - v_debit WHERE id = v_hold.account_id;
        INSERT INTO billing_creditledgerentry
            (account_id, kind, reason, available_delta, held_delta, hold_id, created_at)
        VALUES (v_hold.account_id, 'debit', '', 0, -v_debit, v_hold.id, v_now);
    END IF;
    IF v_rest > 0 THEN
        UPDATE billing_creditaccount SET held = held - v_rest, available = available + v_rest
        WHERE id = v_hold.account_id;
        INSERT INTO billing_creditledgerentry
            (account_id, kind, reason, available_delta, held_delta, hold_id, created_at)
        VALUES (v_hold.account_id, 'release', '', v_rest, -v_rest, v_hold.id, v_now);
    END IF;
    UPDATE billing_credithold SET status = p_status, used = v_debit, finished_at = v_now
    WHERE id = v_hold.id;
    RETURN 1;
END;
$$;

CREATE TRIGGER billing_creditledgerentry_append_only BEFORE UPDATE OR DELETE
ON billing_creditledgerentry FOR EACH ROW EXECUTE FUNCTION billing_ledger_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS billing_creditledgerentry_append_only ON billing_creditledgerentry;
DROP FUNCTION IF EXISTS billing_credit_hold(bigint, bigint, bigint, text, bigint, bigint, text);
DROP FUNCTION IF EXISTS billing_credit_finish(text, bigint, text, text);
"""


class Migration(migrations.Migration):
    dependencies = [("billing", "0005_credits")]

    operations = [migrations.RunSQL(FUNCTIONS, DROP)]
