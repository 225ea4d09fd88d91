-- Issue 11: clicks and impressions in daily partitions that retention drops whole, and reports
-- read from exact rollups kept by triggers in the same transaction as the rows they count.

-- Test conversions (issue 12 sets the flag) never count in reports.
ALTER TABLE conversions ADD COLUMN test BOOLEAN NOT NULL DEFAULT false;

-- ---------------------------------------------------------------------------------------------
-- Rollups. A bucket is 15 minutes: every UTC offset any IANA zone uses today or used since 1970
-- is a multiple of 15 minutes (+05:45 Asia/Kathmandu, +08:45 Australia/Eucla, +12:45
-- Pacific/Chatham, and DST shifts of 30 or 60 minutes), so every zone's day, DST days included,
-- is an exact union of buckets: a report by day in any tz sums whole buckets and is exact.
-- aff_id 0 is "no affiliate" (an unattributed conversion, a duplicate whose original has none).
-- Each change is added at four levels: (offer, affiliate), (offer, all: aff_id -1), (all: offer_id
-- -1, affiliate) and (all, all), so that a report reads only the rows of its grouping and filters:
-- a 30-day report by day is 2,880 rows however many offers and affiliates there are, by offer
-- 2,880 per offer. Rows are never deleted: retention drops clicks, not what they added here.
CREATE TABLE report_rollups (
    offer_id    BIGINT      NOT NULL,
    aff_id      BIGINT      NOT NULL,
    bucket      TIMESTAMPTZ NOT NULL,
    clicks      BIGINT      NOT NULL DEFAULT 0,
    impressions BIGINT      NOT NULL DEFAULT 0,
    conversions BIGINT      NOT NULL DEFAULT 0,
    duplicates  BIGINT      NOT NULL DEFAULT 0,
    revenue     NUMERIC     NOT NULL DEFAULT 0,
    commission  NUMERIC     NOT NULL DEFAULT 0,
    PRIMARY KEY (offer_id, aff_id, bucket)
);
-- By affiliate (offer_id -1 or one offer), and by offer (aff_id -1 or one affiliate).
CREATE INDEX report_rollups_offer_idx ON report_rollups (offer_id, bucket, aff_id);
CREATE INDEX report_rollups_aff_idx ON report_rollups (aff_id, bucket, offer_id);

CREATE FUNCTION rollup_bucket(t TIMESTAMPTZ) RETURNS TIMESTAMPTZ
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN date_bin('15 minutes', t, TIMESTAMPTZ '2000-01-01 00:00:00+00');

-- rollup_add adds one change to one bucket's rows, at the four levels.
CREATE FUNCTION rollup_add(t TIMESTAMPTZ, offer BIGINT, aff BIGINT, n_conversions BIGINT, n_duplicates BIGINT,
                           d_revenue NUMERIC, d_commission NUMERIC) RETURNS void LANGUAGE sql AS $$
    INSERT INTO report_rollups AS r (offer_id, aff_id, bucket, conversions, duplicates, revenue, commission)
    SELECT o, a, rollup_bucket(t), n_conversions, n_duplicates, d_revenue, d_commission
    FROM (VALUES (-1, -1), (-1, COALESCE(aff, 0)), (offer, -1), (offer, COALESCE(aff, 0))) AS l (o, a)
    ORDER BY 1, 2
    ON CONFLICT (offer_id, aff_id, bucket) DO UPDATE SET
        conversions = r.conversions + EXCLUDED.conversions, duplicates = r.duplicates + EXCLUDED.duplicates,
        revenue = r.revenue + EXCLUDED.revenue, commission = r.commission + EXCLUDED.commission
$$;

-- A duplicate that named no affiliate counts for its original conversion's (as reports always
-- did). The original may commit after the duplicate (Temporal rejects the second workflow before
-- the first records), so both triggers take this lock and whichever runs second sees the other.
CREATE FUNCTION rollup_invoice_lock(offer BIGINT, invoice TEXT) RETURNS void LANGUAGE sql AS $$
    SELECT pg_advisory_xact_lock(hashtextextended(offer::text || '/' || invoice, 7210415005))
$$;

-- rollup_move_duplicates moves the duplicates of one invoice that named no affiliate from one
-- affiliate key to another, bucket by bucket.
CREATE FUNCTION rollup_move_duplicates(offer BIGINT, invoice TEXT, from_aff BIGINT, to_aff BIGINT) RETURNS void
    LANGUAGE plpgsql AS $$
DECLARE
    d RECORD;
BEGIN
    IF COALESCE(from_aff, 0) = COALESCE(to_aff, 0) THEN
        RETURN;
    END IF;
    FOR d IN SELECT rollup_bucket(created_at) AS b, count(*) AS n FROM conversion_duplicates
             WHERE offer_id = offer AND invoice_id = invoice AND aff_id IS NULL GROUP BY 1 ORDER BY 1 LOOP
        PERFORM rollup_add(d.b, offer, from_aff, 0, -d.n, 0, 0);
        PERFORM rollup_add(d.b, offer, to_aff, 0, d.n, 0, 0);
    END LOOP;
END
$$;

-- Conversions: every insert, status change (approve, reject, hold expiry, reversal), amount or
-- commission change and backdating moves the approved figures of the buckets concerned.
CREATE FUNCTION rollup_conversions() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    -- Whether the duplicates of the invoice change hands (a conversion that appears, goes, or
    -- changes its invoice, offer, affiliate or test flag).
    move BOOLEAN := TG_OP <> 'UPDATE' OR (OLD.offer_id, OLD.invoice_id, OLD.aff_id, OLD.test)
                                          IS DISTINCT FROM (NEW.offer_id, NEW.invoice_id, NEW.aff_id, NEW.test);
BEGIN
    IF TG_OP = 'UPDATE' AND NOT move AND (OLD.status, OLD.created_at, OLD.amount, OLD.commission)
            IS NOT DISTINCT FROM (NEW.status, NEW.created_at, NEW.amount, NEW.commission) THEN
        RETURN NULL; -- updated_at, reason, note, ...: nothing reports count
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') AND NOT OLD.test THEN
        IF OLD.status = 'approved' THEN
            PERFORM rollup_add(OLD.created_at, OLD.offer_id, OLD.aff_id, -1, 0, -OLD.amount, -OLD.commission);
        END IF;
        IF move AND OLD.invoice_id IS NOT NULL THEN
            PERFORM rollup_invoice_lock(OLD.offer_id, OLD.invoice_id);
            PERFORM rollup_move_duplicates(OLD.offer_id, OLD.invoice_id, OLD.aff_id, 0);
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NOT NEW.test THEN
        IF NEW.status = 'approved' THEN
            PERFORM rollup_add(NEW.created_at, NEW.offer_id, NEW.aff_id, 1, 0, NEW.amount, NEW.commission);
        END IF;
        IF move AND NEW.invoice_id IS NOT NULL THEN
            PERFORM rollup_invoice_lock(NEW.offer_id, NEW.invoice_id);
            PERFORM rollup_move_duplicates(NEW.offer_id, NEW.invoice_id, 0, NEW.aff_id);
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION rollup_duplicates() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    aff BIGINT := NEW.aff_id;
BEGIN
    IF aff IS NULL THEN
        PERFORM rollup_invoice_lock(NEW.offer_id, NEW.invoice_id);
        SELECT c.aff_id INTO aff FROM conversions c
        WHERE c.offer_id = NEW.offer_id AND c.invoice_id = NEW.invoice_id AND NOT c.test LIMIT 1;
    END IF;
    PERFORM rollup_add(NEW.created_at, NEW.offer_id, aff, 0, 1, 0, 0);
    RETURN NULL;
END
$$;

-- Clicks and impressions: one statement-level trigger per batch (the writer's COPY), reading the
-- batch from its transition table, so a batch of 1,000 rows is one upsert of its few (bucket,
-- offer, affiliate) groups. Sorted, so concurrent writers lock rollup rows in one order.
CREATE FUNCTION rollup_clicks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO report_rollups AS r (offer_id, aff_id, bucket, clicks)
    SELECT CASE WHEN grouping(offer_id) = 1 THEN -1 ELSE offer_id END,
           CASE WHEN grouping(aff_id) = 1 THEN -1 ELSE aff_id END, b, count(*)
    FROM (SELECT offer_id, aff_id, rollup_bucket(created_at) AS b FROM new_rows) n
    GROUP BY GROUPING SETS ((offer_id, aff_id, b), (offer_id, b), (aff_id, b), (b)) ORDER BY 1, 2, 3
    ON CONFLICT (offer_id, aff_id, bucket) DO UPDATE SET clicks = r.clicks + EXCLUDED.clicks;
    RETURN NULL;
END
$$;

CREATE FUNCTION rollup_impressions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO report_rollups AS r (offer_id, aff_id, bucket, impressions)
    SELECT CASE WHEN grouping(offer_id) = 1 THEN -1 ELSE offer_id END,
           CASE WHEN grouping(aff_id) = 1 THEN -1 ELSE aff_id END, b, count(*)
    FROM (SELECT offer_id, aff_id, rollup_bucket(created_at) AS b FROM new_rows) n
    GROUP BY GROUPING SETS ((offer_id, aff_id, b), (offer_id, b), (aff_id, b), (b)) ORDER BY 1, 2, 3
    ON CONFLICT (offer_id, aff_id, bucket) DO UPDATE SET impressions = r.impressions + EXCLUDED.impressions;
    RETURN NULL;
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Partitions. Clicks and impressions are range-partitioned by UTC day on created_at; partitions
-- are named <table>_pYYYYMMDD. The process creates them ahead and drops expired ones
-- (store.MaintainPartitions), through these two functions, so the SQL is in one place.
--
-- Each table has a DEFAULT partition, so that no acknowledged click is ever refused for want of a
-- partition (a clock jump, a process stopped longer than the lead, a backdated import). It stays
-- empty in normal running, which keeps creating a partition cheap (Postgres scans the default
-- partition for rows of the new range); when it does hold rows of a day being created they are
-- moved into the new partition before it is attached. Rows it holds past retention are deleted.

-- A click's heap row, fields ordered so that fixed-width ones need no padding; click_id as uuid
-- (16 bytes, not CHAR(32)'s 33). No primary key: a partitioned table's key must include
-- created_at, and a 128-bit random or MAC'd ID is unique without a check; the click_id index is
-- per partition and the lookup names the partition from the ID's time. No created_at index:
-- reports read rollups and retention drops partitions.
CREATE FUNCTION trackflow_ensure_partitions(first_day DATE, last_day DATE) RETURNS INT
    LANGUAGE plpgsql AS $$
DECLARE
    tbl  TEXT;
    d    DATE;
    name TEXT;
    lo   TEXT;
    hi   TEXT;
    made INT := 0;
BEGIN
    -- Several processes run this at start and hourly: one at a time.
    PERFORM pg_advisory_xact_lock(7210415006);
    FOREACH tbl IN ARRAY ARRAY['clicks', 'impressions'] LOOP
        d := first_day;
        WHILE d <= last_day LOOP
            name := format('%s_p%s', tbl, to_char(d, 'YYYYMMDD'));
            IF to_regclass(name) IS NULL THEN
                lo := to_char(d, 'YYYY-MM-DD') || ' 00:00:00+00';
                hi := to_char(d + 1, 'YYYY-MM-DD') || ' 00:00:00+00';
                EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING STORAGE)', name, tbl);
                EXECUTE format('WITH moved AS (DELETE FROM %I WHERE created_at >= %L AND created_at < %L RETURNING *)
                                INSERT INTO %I SELECT * FROM moved', tbl || '_default', lo, hi, name);
                EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', tbl, name, lo, hi);
                made := made + 1;
            END IF;
            d := d + 1;
        END LOOP;
    END LOOP;
    RETURN made;
END
$$;

-- trackflow_drop_partitions drops the daily partitions of days before first_kept (whole tables:
-- no vacuum debt) and deletes the default partition's rows older than it. Rollups keep counting
-- them.
CREATE FUNCTION trackflow_drop_partitions(first_kept DATE) RETURNS INT LANGUAGE plpgsql AS $$
DECLARE
    p       RECORD;
    dropped INT := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(7210415006);
    FOR p IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent IN ('clicks'::regclass, 'impressions'::regclass)
               AND c.relname ~ '_p[0-9]{8}$'
               AND to_date(right(c.relname, 8), 'YYYYMMDD') < first_kept
             ORDER BY 1 LOOP
        EXECUTE format('DROP TABLE %I', p.relname);
        dropped := dropped + 1;
    END LOOP;
    DELETE FROM clicks_default WHERE created_at < first_kept::timestamp AT TIME ZONE 'UTC';
    DELETE FROM impressions_default WHERE created_at < first_kept::timestamp AT TIME ZONE 'UTC';
    RETURN dropped;
END
$$;

-- The backup lookup's key for a user agent: 8 bytes of its md5 instead of md5's 32 hex
-- characters, halving that index entry. The lookup compares the user agent itself too, so a
-- collision cannot attribute a sale to another browser.
CREATE FUNCTION user_agent_key(ua TEXT) RETURNS BIGINT LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN ('x' || left(md5(ua), 16))::bit(64)::bigint;

-- Convert: the populated tables are renamed, their rows copied into the partitioned ones, then
-- counted into the rollups once, before the triggers exist.
ALTER TABLE clicks RENAME TO clicks_unpartitioned;
ALTER TABLE impressions RENAME TO impressions_unpartitioned;
DROP INDEX clicks_backup_idx, clicks_created_idx, impressions_created_idx;

CREATE TABLE clicks (
    created_at   TIMESTAMPTZ NOT NULL,
    offer_id     BIGINT      NOT NULL,
    aff_id       BIGINT      NOT NULL,
    creative_id  BIGINT,
    click_id     UUID        NOT NULL,
    ip           INET        NOT NULL,
    sub_id       TEXT,
    user_agent   TEXT        NOT NULL DEFAULT '',
    referer      TEXT        NOT NULL DEFAULT '',
    converted_by TEXT -- the conversion that used this single-use click
) PARTITION BY RANGE (created_at);
CREATE INDEX clicks_click_id_idx ON clicks (click_id);
-- Backup attribution: the latest click on an offer from one IP and user agent, newest partition
-- first (an ordered scan of the partitions stops at the first that has one).
CREATE INDEX clicks_backup_idx ON clicks (offer_id, ip, user_agent_key(user_agent), created_at DESC);
CREATE TABLE clicks_default PARTITION OF clicks DEFAULT;

-- Impressions are only counted: no id, no index.
CREATE TABLE impressions (
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    offer_id    BIGINT      NOT NULL,
    aff_id      BIGINT      NOT NULL,
    creative_id BIGINT,
    ip          INET        NOT NULL,
    sub_id      TEXT,
    user_agent  TEXT        NOT NULL DEFAULT ''
) PARTITION BY RANGE (created_at);
CREATE TABLE impressions_default PARTITION OF impressions DEFAULT;

-- Partitions for the days that hold rows (the last 800 at most; older rows go to the default
-- partition, which retention empties) and for the days around today.
SELECT trackflow_ensure_partitions(d, d) FROM (
    SELECT DISTINCT (created_at AT TIME ZONE 'UTC')::date AS d FROM clicks_unpartitioned
    UNION SELECT DISTINCT (created_at AT TIME ZONE 'UTC')::date FROM impressions_unpartitioned) days
WHERE d >= (now() AT TIME ZONE 'UTC')::date - 800 AND d < (now() AT TIME ZONE 'UTC')::date - 7;
SELECT trackflow_ensure_partitions((now() AT TIME ZONE 'UTC')::date - 7, (now() AT TIME ZONE 'UTC')::date + 7);

INSERT INTO clicks (created_at, offer_id, aff_id, creative_id, click_id, ip, sub_id, user_agent, referer, converted_by)
SELECT created_at, offer_id, aff_id, creative_id, click_id::uuid, ip, sub_id, user_agent, referer, converted_by
FROM clicks_unpartitioned;
INSERT INTO impressions (created_at, offer_id, aff_id, creative_id, ip, sub_id, user_agent)
SELECT created_at, offer_id, aff_id, creative_id, ip, sub_id, user_agent FROM impressions_unpartitioned;
DROP TABLE clicks_unpartitioned, impressions_unpartitioned;

-- Backfill: everything the old reports counted, in one pass per source.
INSERT INTO report_rollups AS r (offer_id, aff_id, bucket, clicks, impressions, conversions, duplicates, revenue, commission)
SELECT CASE WHEN grouping(o) = 1 THEN -1 ELSE o END, CASE WHEN grouping(a) = 1 THEN -1 ELSE a END, b,
       sum(cl), sum(im), sum(cv), sum(du), sum(rev), sum(com) FROM (
    SELECT rollup_bucket(created_at) b, offer_id o, aff_id a, count(*) cl, 0 im, 0 cv, 0 du, 0 rev, 0 com
    FROM clicks GROUP BY 1, 2, 3
    UNION ALL
    SELECT rollup_bucket(created_at), offer_id, aff_id, 0, count(*), 0, 0, 0, 0 FROM impressions GROUP BY 1, 2, 3
    UNION ALL
    SELECT rollup_bucket(created_at), offer_id, COALESCE(aff_id, 0), 0, 0, count(*), 0, sum(amount), sum(commission)
    FROM conversions WHERE status = 'approved' AND NOT test GROUP BY 1, 2, 3
    UNION ALL
    SELECT rollup_bucket(d.created_at), d.offer_id, COALESCE(d.aff_id, c.aff_id, 0), 0, 0, 0, count(*), 0, 0
    FROM conversion_duplicates d
    LEFT JOIN conversions c ON c.offer_id = d.offer_id AND c.invoice_id = d.invoice_id AND NOT c.test
    GROUP BY 1, 2, 3) x
GROUP BY GROUPING SETS ((o, a, b), (o, b), (a, b), (b));

CREATE TRIGGER clicks_rollup AFTER INSERT ON clicks REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_clicks();
CREATE TRIGGER impressions_rollup AFTER INSERT ON impressions REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_impressions();
CREATE TRIGGER conversions_rollup AFTER INSERT OR DELETE OR UPDATE ON conversions
    FOR EACH ROW EXECUTE FUNCTION rollup_conversions();
CREATE TRIGGER conversion_duplicates_rollup AFTER INSERT ON conversion_duplicates
    FOR EACH ROW EXECUTE FUNCTION rollup_duplicates();
