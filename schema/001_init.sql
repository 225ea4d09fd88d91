-- Advertisers own offers and authenticate server-to-server postbacks with their token.
CREATE TABLE advertisers (
    id             BIGSERIAL PRIMARY KEY,
    name           TEXT        NOT NULL,
    postback_token TEXT        NOT NULL UNIQUE,
    allowed_ips    CIDR[]      NOT NULL DEFAULT '{}',
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE affiliates (
    id         BIGSERIAL PRIMARY KEY,
    name       TEXT        NOT NULL,
    status     TEXT        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE offers (
    id                  BIGSERIAL PRIMARY KEY,
    advertiser_id       BIGINT        NOT NULL REFERENCES advertisers (id),
    name                TEXT          NOT NULL,
    landing_url         TEXT          NOT NULL,
    thank_you_url       TEXT          NOT NULL DEFAULT '',
    cookie_days         INT           NOT NULL DEFAULT 30 CHECK (cookie_days BETWEEN 1 AND 365),
    payout_type         TEXT          NOT NULL CHECK (payout_type IN ('cpa', 'cps', 'cpa_cps')),
    payout_amount       NUMERIC(12,2) NOT NULL DEFAULT 0 CHECK (payout_amount >= 0),
    payout_percent      NUMERIC(5,2)  NOT NULL DEFAULT 0 CHECK (payout_percent BETWEEN 0 AND 100),
    currency            CHAR(3)       NOT NULL DEFAULT 'USD',
    multi_conversion    BOOLEAN       NOT NULL DEFAULT false,
    allow_custom_params BOOLEAN       NOT NULL DEFAULT false,
    status              TEXT          NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused')),
    created_at          TIMESTAMPTZ   NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ   NOT NULL DEFAULT now()
);
CREATE INDEX offers_advertiser_idx ON offers (advertiser_id);

-- Per-affiliate commission override for one offer.
CREATE TABLE offer_payouts (
    offer_id       BIGINT        NOT NULL REFERENCES offers (id),
    aff_id         BIGINT        NOT NULL REFERENCES affiliates (id),
    payout_type    TEXT          NOT NULL CHECK (payout_type IN ('cpa', 'cps', 'cpa_cps')),
    payout_amount  NUMERIC(12,2) NOT NULL DEFAULT 0,
    payout_percent NUMERIC(5,2)  NOT NULL DEFAULT 0,
    updated_at     TIMESTAMPTZ   NOT NULL DEFAULT now(),
    PRIMARY KEY (offer_id, aff_id)
);

-- The affiliate's own pixels/postbacks, fired for each approved conversion.
CREATE TABLE affiliate_pixels (
    id         BIGSERIAL PRIMARY KEY,
    aff_id     BIGINT      NOT NULL REFERENCES affiliates (id),
    offer_id   BIGINT      REFERENCES offers (id), -- NULL: every offer
    url        TEXT        NOT NULL,
    method     TEXT        NOT NULL DEFAULT 'GET' CHECK (method IN ('GET', 'POST')),
    secret     TEXT        NOT NULL DEFAULT '',
    status     TEXT        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX affiliate_pixels_aff_idx ON affiliate_pixels (aff_id);

-- Clicks: the cookie's target and the cookie-less backup. No foreign keys: this is the hot path,
-- and offers/affiliates are never deleted.
CREATE TABLE clicks (
    click_id     CHAR(32)    PRIMARY KEY,
    offer_id     BIGINT      NOT NULL,
    aff_id       BIGINT      NOT NULL,
    sub_id       TEXT,
    creative_id  BIGINT,
    ip           INET        NOT NULL,
    user_agent   TEXT        NOT NULL DEFAULT '',
    referer      TEXT        NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL,
    converted_by TEXT -- the conversion that used this single-use click
);
-- Backup attribution: the latest click on an offer from one IP and user agent. md5 keeps long
-- user agents within btree limits; the lookup is an index scan however many clicks there are.
CREATE INDEX clicks_backup_idx ON clicks (offer_id, ip, md5(user_agent), created_at DESC);
CREATE INDEX clicks_created_idx ON clicks (created_at);

CREATE TABLE impressions (
    id          BIGSERIAL PRIMARY KEY,
    offer_id    BIGINT      NOT NULL,
    aff_id      BIGINT      NOT NULL,
    sub_id      TEXT,
    creative_id BIGINT,
    ip          INET        NOT NULL,
    user_agent  TEXT        NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX impressions_created_idx ON impressions (created_at);

CREATE TABLE conversions (
    id                  TEXT          PRIMARY KEY,
    offer_id            BIGINT        NOT NULL REFERENCES offers (id),
    aff_id              BIGINT,
    sub_id              TEXT,
    creative_id         BIGINT,
    click_id            CHAR(32),
    invoice_id          TEXT,
    amount              NUMERIC(12,2) NOT NULL,
    currency            CHAR(3)       NOT NULL,
    commission          NUMERIC(12,2) NOT NULL DEFAULT 0,
    reversed_commission NUMERIC(12,2),
    status              TEXT          NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'reversed')),
    reason              TEXT,
    attribution_method  TEXT,
    workflow_id         TEXT          NOT NULL,
    ip                  INET,
    created_at          TIMESTAMPTZ   NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ   NOT NULL DEFAULT now()
);
-- The permanent half of invoice de-duplication: (offer_id, id) is used once, forever.
CREATE UNIQUE INDEX conversions_invoice_uq ON conversions (offer_id, invoice_id) WHERE invoice_id IS NOT NULL;
CREATE INDEX conversions_created_idx ON conversions (created_at DESC);
CREATE INDEX conversions_offer_idx ON conversions (offer_id, created_at DESC);
CREATE INDEX conversions_aff_idx ON conversions (aff_id, created_at DESC);

-- Duplicate conversion requests: never stored as conversions, only counted.
CREATE TABLE conversion_duplicates (
    id          BIGSERIAL PRIMARY KEY,
    offer_id    BIGINT      NOT NULL,
    aff_id      BIGINT,
    invoice_id  TEXT        NOT NULL,
    workflow_id TEXT        NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX conversion_duplicates_created_idx ON conversion_duplicates (created_at);

-- Every attempt to fire an affiliate pixel.
CREATE TABLE pixel_deliveries (
    id            BIGSERIAL PRIMARY KEY,
    conversion_id TEXT        NOT NULL REFERENCES conversions (id),
    pixel_id      BIGINT      NOT NULL,
    event         TEXT        NOT NULL DEFAULT 'approved',
    method        TEXT        NOT NULL,
    url           TEXT        NOT NULL,
    body          TEXT        NOT NULL DEFAULT '',
    attempt       INT         NOT NULL,
    status_code   INT         NOT NULL DEFAULT 0,
    error         TEXT        NOT NULL DEFAULT '',
    duration_ms   INT         NOT NULL DEFAULT 0,
    at            TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX pixel_deliveries_conversion_idx ON pixel_deliveries (conversion_id, id);
