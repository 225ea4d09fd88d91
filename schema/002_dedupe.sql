-- Invoice de-duplication, postback authentication and the conversions API (issue 3).

-- A duplicate is counted once per request, so an activity retry cannot count it twice: the API's
-- duplicates and the workflow's carry the request's conversion id.
ALTER TABLE conversion_duplicates ADD COLUMN request_id TEXT;
CREATE UNIQUE INDEX conversion_duplicates_request_uq ON conversion_duplicates (request_id);
-- Reports attribute a duplicate to the original conversion's affiliate when the request did not
-- name one (a page pixel is rejected by Temporal before its cookie is read).
CREATE INDEX conversion_duplicates_invoice_idx ON conversion_duplicates (offer_id, invoice_id);

-- Postback tokens are found by their SHA-256, so the index lookup's timing tells an attacker
-- nothing about the token; the token itself is then compared in constant time. A trigger keeps the
-- hash beside the token, whoever writes it. Not unique: postback_token's own constraint is the one
-- that reports a taken token, and SHA-256 does not collide.
ALTER TABLE advertisers ADD COLUMN postback_token_sha256 BYTEA;
UPDATE advertisers SET postback_token_sha256 = sha256(convert_to(postback_token, 'UTF8'));
ALTER TABLE advertisers ALTER COLUMN postback_token_sha256 SET NOT NULL;
CREATE INDEX advertisers_token_sha256_idx ON advertisers (postback_token_sha256);

CREATE FUNCTION advertisers_token_sha256() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.postback_token_sha256 := sha256(convert_to(NEW.postback_token, 'UTF8'));
    RETURN NEW;
END
$$;
CREATE TRIGGER advertisers_token_sha256 BEFORE INSERT OR UPDATE OF postback_token ON advertisers
    FOR EACH ROW EXECUTE FUNCTION advertisers_token_sha256();

-- The conversions list filters on invoice_id without an offer too.
CREATE INDEX conversions_invoice_idx ON conversions (invoice_id) WHERE invoice_id IS NOT NULL;
