-- Held conversions (issue 10): an offer may bound how long a held conversion waits for a decision
-- (hold_seconds, 0 = wait for a decision) and say what its expiry does (hold_expiry). A
-- conversion's note keeps the text an admin gave with a reject or a reversal.
ALTER TABLE offers
    ADD COLUMN hold_seconds INTEGER NOT NULL DEFAULT 0 CHECK (hold_seconds BETWEEN 0 AND 31536000),
    ADD COLUMN hold_expiry TEXT NOT NULL DEFAULT 'approve' CHECK (hold_expiry IN ('approve', 'reject'));
ALTER TABLE conversions ADD COLUMN note TEXT;
