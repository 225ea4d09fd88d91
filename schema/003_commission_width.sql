-- A cpa_cps commission is the flat amount plus up to 100% of the sale: each may be 9999999999.99,
-- so the sum needs eleven integer digits. NUMERIC(12,2) would make recording such a conversion
-- fail (and its local activity retry) instead of storing it.
ALTER TABLE conversions
    ALTER COLUMN commission TYPE NUMERIC(14,2),
    ALTER COLUMN reversed_commission TYPE NUMERIC(14,2);
