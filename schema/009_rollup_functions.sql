-- Issue 9: one trigger function for the click and impression rollups (they were one body twice),
-- and issue 12's events in the duplicate rollup: an invoice is unique per (offer, event, id), so a
-- duplicate that names no affiliate counts for the original of its own event, not for any
-- conversion of the offer with that id (a lead and a sale may share an id, from two affiliates).

-- Writers wait until this commits, taken in the order they take them (a conversion, then its
-- duplicate), so that the recount below sees every row and no trigger of the old functions runs
-- beside it.
LOCK TABLE conversions, conversion_duplicates IN SHARE ROW EXCLUSIVE MODE;

-- ---------------------------------------------------------------------------------------------
-- Clicks and impressions: one statement-level trigger per batch (the writer's COPY), reading the
-- batch from its transition table, so a batch of 1,000 rows is one upsert of its few (bucket,
-- offer, affiliate) groups. Sorted, so concurrent writers lock rollup rows in one order. The
-- trigger's argument names the column it counts. Static SQL (the other column gets 0) rather
-- than EXECUTE, so PL/pgSQL keeps its prepared plan across batches as it did for 005's two.
CREATE FUNCTION rollup_counts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    is_click BOOLEAN := TG_ARGV[0] = 'clicks';
BEGIN
    IF TG_NARGS <> 1 OR TG_ARGV[0] NOT IN ('clicks', 'impressions') THEN
        RAISE EXCEPTION 'rollup_counts counts clicks or impressions, not %', TG_ARGV[0];
    END IF;
    INSERT INTO report_rollups AS r (offer_id, aff_id, bucket, clicks, impressions)
    SELECT CASE WHEN grouping(offer_id) = 1 THEN -1 ELSE offer_id END,
           CASE WHEN grouping(aff_id) = 1 THEN -1 ELSE aff_id END, b,
           CASE WHEN is_click THEN count(*) ELSE 0 END, CASE WHEN is_click THEN 0 ELSE count(*) END
    FROM (SELECT offer_id, aff_id, rollup_bucket(created_at) AS b FROM new_rows) n
    GROUP BY GROUPING SETS ((offer_id, aff_id, b), (offer_id, b), (aff_id, b), (b)) ORDER BY 1, 2, 3
    ON CONFLICT (offer_id, aff_id, bucket) DO UPDATE SET
        clicks = r.clicks + EXCLUDED.clicks, impressions = r.impressions + EXCLUDED.impressions;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER clicks_rollup AFTER INSERT ON clicks REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_counts('clicks');
CREATE OR REPLACE TRIGGER impressions_rollup AFTER INSERT ON impressions REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_counts('impressions');
DROP FUNCTION rollup_clicks(), rollup_impressions();

-- ---------------------------------------------------------------------------------------------
-- Duplicates carry their event ('' for the plain conversion, as conversions.event). Those
-- counted before this migration get it from their workflow ID, which names it
-- (conversion/<offer>:<event>/<id>, API.md).
ALTER TABLE conversion_duplicates ADD COLUMN event TEXT NOT NULL DEFAULT '';
UPDATE conversion_duplicates SET event = substring(workflow_id FROM '^conversion/[0-9]+:([a-z][a-z0-9_]*)/')
WHERE workflow_id ~ '^conversion/[0-9]+:[a-z][a-z0-9_]*/';

-- The lock is per (offer, event, invoice): the duplicate and its original take the same one.
CREATE FUNCTION rollup_invoice_lock(offer BIGINT, ev TEXT, invoice TEXT) RETURNS void LANGUAGE sql AS $$
    SELECT pg_advisory_xact_lock(hashtextextended(offer::text || '/' || ev || '/' || invoice, 7210415005))
$$;

-- rollup_move_duplicates moves the duplicates of one invoice of one event that named no affiliate
-- between the unattributed key (0) and aff, bucket by bucket: to aff for sign 1, back for -1.
CREATE FUNCTION rollup_move_duplicates(offer BIGINT, ev TEXT, invoice TEXT, aff BIGINT, sign INT) RETURNS void
    LANGUAGE plpgsql AS $$
DECLARE
    d RECORD;
BEGIN
    IF COALESCE(aff, 0) = 0 THEN
        RETURN;
    END IF;
    FOR d IN SELECT rollup_bucket(created_at) AS b, count(*) AS n FROM conversion_duplicates
             WHERE offer_id = offer AND invoice_id = invoice AND event = ev AND aff_id IS NULL GROUP BY 1 ORDER BY 1 LOOP
        PERFORM rollup_add(d.b, offer, 0, 0, -sign * d.n, 0, 0);
        PERFORM rollup_add(d.b, offer, aff, 0, sign * d.n, 0, 0);
    END LOOP;
END
$$;

-- rollup_conversion_row adds (sign 1) or takes back (sign -1) what one conversion row counts: its
-- approved figures and, when move, the duplicates of its invoice that named no affiliate. 005
-- wrote this twice in rollup_conversions, once per sign.
CREATE FUNCTION rollup_conversion_row(c conversions, sign INT, move BOOLEAN) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF c.test THEN
        RETURN; -- test conversions never count
    END IF;
    IF c.status = 'approved' THEN
        PERFORM rollup_add(c.created_at, c.offer_id, c.aff_id, sign, 0, sign * c.amount, sign * c.commission);
    END IF;
    IF move AND c.invoice_id IS NOT NULL THEN
        PERFORM rollup_invoice_lock(c.offer_id, c.event, c.invoice_id);
        PERFORM rollup_move_duplicates(c.offer_id, c.event, c.invoice_id, c.aff_id, sign);
    END IF;
END
$$;

-- Conversions: every insert, status change (approve, reject, hold expiry, reversal), amount or
-- commission change and backdating moves the approved figures of the buckets concerned: the old
-- row is taken back and the new one added.
CREATE OR REPLACE FUNCTION rollup_conversions() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    -- Whether the duplicates of the invoice change hands (a conversion that appears, goes, or
    -- changes its invoice, event, offer, affiliate or test flag).
    move BOOLEAN := TG_OP <> 'UPDATE' OR (OLD.offer_id, OLD.event, OLD.invoice_id, OLD.aff_id, OLD.test)
                                          IS DISTINCT FROM (NEW.offer_id, NEW.event, NEW.invoice_id, NEW.aff_id, NEW.test);
BEGIN
    IF TG_OP = 'UPDATE' AND NOT move AND (OLD.status, OLD.created_at, OLD.amount, OLD.commission)
            IS NOT DISTINCT FROM (NEW.status, NEW.created_at, NEW.amount, NEW.commission) THEN
        RETURN NULL; -- updated_at, reason, note, ...: nothing reports count
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM rollup_conversion_row(OLD, -1, move);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM rollup_conversion_row(NEW, 1, move);
    END IF;
    RETURN NULL;
END
$$;

-- The original is the one non-test conversion of the duplicate's (offer, event, invoice): the
-- unique index conversions_invoice_uq allows no second.
CREATE OR REPLACE FUNCTION rollup_duplicates() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    aff BIGINT := NEW.aff_id;
BEGIN
    IF aff IS NULL THEN
        PERFORM rollup_invoice_lock(NEW.offer_id, NEW.event, NEW.invoice_id);
        SELECT c.aff_id INTO aff FROM conversions c
        WHERE c.offer_id = NEW.offer_id AND c.event = NEW.event AND c.invoice_id = NEW.invoice_id AND NOT c.test;
    END IF;
    PERFORM rollup_add(NEW.created_at, NEW.offer_id, aff, 0, 1, 0, 0);
    RETURN NULL;
END
$$;

DROP FUNCTION rollup_invoice_lock(BIGINT, TEXT), rollup_move_duplicates(BIGINT, TEXT, BIGINT, BIGINT);

-- Recount the duplicates column: under 005's functions a duplicate of one event could count for
-- another event's affiliate, and the later original of another event moved it again.
UPDATE report_rollups SET duplicates = 0 WHERE duplicates <> 0;
INSERT INTO report_rollups AS r (offer_id, aff_id, bucket, duplicates)
SELECT CASE WHEN grouping(o) = 1 THEN -1 ELSE o END, CASE WHEN grouping(a) = 1 THEN -1 ELSE a END, b, count(*)
FROM (SELECT d.offer_id AS o, COALESCE(d.aff_id, c.aff_id, 0) AS a, rollup_bucket(d.created_at) AS b
      FROM conversion_duplicates d
      LEFT JOIN conversions c ON c.offer_id = d.offer_id AND c.event = d.event AND c.invoice_id = d.invoice_id AND NOT c.test) x
GROUP BY GROUPING SETS ((o, a, b), (o, b), (a, b), (b)) ORDER BY 1, 2, 3
ON CONFLICT (offer_id, aff_id, bucket) DO UPDATE SET duplicates = EXCLUDED.duplicates;
