"""Many ledger calls in one statement: one transaction and one commit for a batch of holds
or finishes that concurrent requests of one process made at the same moment
(billing/services/ledger_batch.py).

Each function runs the single-call function of migrations 0004/0009 once per item, so the
rules are the same by construction. Locks are taken in the order every single call takes
them, so that nothing waits in a circle: a quota batch first locks all the packs it will
touch in (expires_at, id) order (two items of one customer would otherwise lock that
customer's packs in item order), a finish batch locks its holds first (as a single finish
does); items then run in (customer, model) order, which is also the order credit accounts
and key spend rows are locked in.
"""

from django.db import migrations

FUNCTIONS = """
CREATE OR REPLACE FUNCTION billing_quota_hold_many(
    p_users bigint[], p_listings bigint[], p_tokens bigint[], p_requests text[], p_sync text
) RETURNS TABLE (o_index bigint, o_hold_id bigint, o_available bigint)
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    PERFORM 1 FROM billing_quotapack p
    WHERE (p.user_id, p.listing_id) IN (SELECT * FROM unnest(p_users, p_listings))
      AND p.closed_at IS NULL AND p.expires_at > now()
    ORDER BY p.expires_at, p.id
    FOR UPDATE;
    FOR r IN
        SELECT * FROM unnest(p_users, p_listings, p_tokens, p_requests)
            WITH ORDINALITY AS t(u, l, k, q, i)
        ORDER BY t.u, t.l, t.i
    LOOP
        o_index := r.i;
        SELECT h.o_hold_id, h.o_available INTO o_hold_id, o_available
        FROM billing_quota_hold(r.u, r.l, r.k, r.q, p_sync) h;
        RETURN NEXT;
    END LOOP;
END;
$$;

CREATE OR REPLACE FUNCTION billing_quota_finish_many(
    p_requests text[], p_used bigint[], p_status text[], p_sync text
) RETURNS TABLE (o_index bigint, o_outcome integer)
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    -- The holds first, then their packs: the order a single finish takes them in.
    PERFORM 1 FROM billing_quotahold h WHERE h.request_id = ANY(p_requests)
    ORDER BY h.id FOR UPDATE;
    PERFORM 1 FROM billing_quotapack p
    WHERE p.id IN (
        SELECT e.pack_id FROM billing_quotaledgerentry e
        JOIN billing_quotahold h ON h.id = e.hold_id
        WHERE h.request_id = ANY(p_requests)
    )
    ORDER BY p.expires_at, p.id
    FOR UPDATE;
    FOR r IN
        SELECT t.q, t.n, t.s, t.i FROM unnest(p_requests, p_used, p_status)
            WITH ORDINALITY AS t(q, n, s, i)
        LEFT JOIN billing_quotahold h ON h.request_id = t.q
        ORDER BY h.user_id, h.listing_id, t.i
    LOOP
        o_index := r.i;
        o_outcome := billing_quota_finish(r.q, r.n, r.s, p_sync);
        RETURN NEXT;
    END LOOP;
END;
$$;

CREATE OR REPLACE FUNCTION billing_credit_hold_many(
    p_users bigint[], p_listings bigint[], p_amounts bigint[], p_requests text[],
    p_inputs bigint[], p_outputs bigint[], p_keys bigint[], p_limits bigint[], p_sync text
) RETURNS TABLE (
    o_index bigint, o_hold_id bigint, o_available bigint, o_refused text, o_key_spent bigint
) LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT * FROM unnest(
            p_users, p_listings, p_amounts, p_requests, p_inputs, p_outputs, p_keys, p_limits
        ) WITH ORDINALITY AS t(u, l, a, q, pi, po, k, kl, i)
        ORDER BY t.u, t.k NULLS FIRST, t.i
    LOOP
        o_index := r.i;
        SELECT h.o_hold_id, h.o_available, h.o_refused, h.o_key_spent
        INTO o_hold_id, o_available, o_refused, o_key_spent
        FROM billing_credit_hold(r.u, r.l, r.a, r.q, r.pi, r.po, p_sync, r.k, r.kl) h;
        RETURN NEXT;
    END LOOP;
END;
$$;

CREATE OR REPLACE FUNCTION billing_credit_finish_many(
    p_requests text[], p_used bigint[], p_status text[], p_sync text
) RETURNS TABLE (o_index bigint, o_outcome integer)
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    PERFORM 1 FROM billing_credithold h WHERE h.request_id = ANY(p_requests)
    ORDER BY h.id FOR UPDATE;
    FOR r IN
        SELECT t.q, t.n, t.s, t.i FROM unnest(p_requests, p_used, p_status)
            WITH ORDINALITY AS t(q, n, s, i)
        LEFT JOIN billing_credithold h ON h.request_id = t.q
        LEFT JOIN billing_creditaccount a ON a.id = h.account_id
        ORDER BY a.user_id, h.api_key_id NULLS FIRST, t.i
    LOOP
        o_index := r.i;
        o_outcome := billing_credit_finish(r.q, r.n, r.s, p_sync);
        RETURN NEXT;
    END LOOP;
END;
$$;
"""

DROP = """
DROP FUNCTION IF EXISTS billing_quota_hold_many(bigint[], bigint[], bigint[], text[], text);
DROP FUNCTION IF EXISTS billing_quota_finish_many(text[], bigint[], text[], text);
DROP FUNCTION IF EXISTS billing_credit_hold_many(
    bigint[], bigint[], bigint[], text[], bigint[], bigint[], bigint[], bigint[], text);
DROP FUNCTION IF EXISTS billing_credit_finish_many(text[], bigint[], text[], text);
"""


class Migration(migrations.Migration):
    dependencies = [("billing", "0009_key_spend")]

    operations = [migrations.RunSQL(FUNCTIONS, DROP)]
