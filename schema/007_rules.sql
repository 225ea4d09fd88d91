-- Issue 12: events (goals), caps with fallback, click-to-conversion time, first-click
-- attribution and sub2..sub5.

ALTER TABLE offers
    ADD COLUMN caps                   JSONB NOT NULL DEFAULT '{}',
    ADD COLUMN affiliate_caps         JSONB NOT NULL DEFAULT '{}',
    ADD COLUMN timezone               TEXT  NOT NULL DEFAULT 'UTC',
    ADD COLUMN fallback_url           TEXT  NOT NULL DEFAULT '',
    ADD COLUMN min_conversion_seconds INT   NOT NULL DEFAULT 0 CHECK (min_conversion_seconds BETWEEN 0 AND 86400),
    ADD COLUMN attribution            TEXT  NOT NULL DEFAULT 'last_click' CHECK (attribution IN ('last_click', 'first_click'));

-- An offer's named events, each with its own payout.
CREATE TABLE offer_events (
    id             BIGSERIAL PRIMARY KEY,
    offer_id       BIGINT        NOT NULL REFERENCES offers (id),
    name           TEXT          NOT NULL,
    payout_type    TEXT          NOT NULL CHECK (payout_type IN ('cpa', 'cps', 'cpa_cps')),
    payout_amount  NUMERIC(12,2) NOT NULL DEFAULT 0,
    payout_percent NUMERIC(5,2)  NOT NULL DEFAULT 0,
    created_at     TIMESTAMPTZ   NOT NULL DEFAULT now(),
    UNIQUE (offer_id, name)
);

-- sub2..sub5 beside sub_id. ALTER on the parent works for partitioned tables too.
ALTER TABLE clicks ADD COLUMN sub2 TEXT, ADD COLUMN sub3 TEXT, ADD COLUMN sub4 TEXT, ADD COLUMN sub5 TEXT;
ALTER TABLE impressions ADD COLUMN sub2 TEXT, ADD COLUMN sub3 TEXT, ADD COLUMN sub4 TEXT, ADD COLUMN sub5 TEXT;

-- A conversion's event ('' for the plain conversion, so the unique index below treats it as a
-- value), its subs, and the cap periods it holds a slot in (NULL when it holds none), so that a
-- rejection frees exactly the slots it took whatever the offer's zone has become since.
ALTER TABLE conversions
    ADD COLUMN event     TEXT NOT NULL DEFAULT '',
    ADD COLUMN sub2      TEXT, ADD COLUMN sub3 TEXT, ADD COLUMN sub4 TEXT, ADD COLUMN sub5 TEXT,
    ADD COLUMN cap_day   DATE,
    ADD COLUMN cap_month DATE;

-- De-duplication is per event: (offer_id, event, id).
DROP INDEX conversions_invoice_uq;
CREATE UNIQUE INDEX conversions_invoice_uq ON conversions (offer_id, event, invoice_id) WHERE invoice_id IS NOT NULL;

-- A click earns at most one conversion of each event: the plain conversion claims
-- clicks.converted_by, an event conversion a row here.
CREATE TABLE click_event_claims (
    click_id      TEXT NOT NULL,
    event         TEXT NOT NULL,
    conversion_id TEXT NOT NULL,
    PRIMARY KEY (click_id, event)
);

-- Cap counters: the slots taken (approved and held plain conversions) per offer (aff_id 0) and
-- per affiliate on the offer, per day ('d') or month ('m') starting at start, in the offer's
-- zone. Recording a conversion locks the rows it needs (INSERT .. ON CONFLICT DO UPDATE) in a
-- fixed order, so a cap of N yields N conversions under any concurrency.
CREATE TABLE cap_counters (
    offer_id BIGINT NOT NULL,
    aff_id   BIGINT NOT NULL,
    period   CHAR(1) NOT NULL CHECK (period IN ('d', 'm')),
    start    DATE   NOT NULL,
    used     INT    NOT NULL DEFAULT 0,
    PRIMARY KEY (offer_id, aff_id, period, start)
);
