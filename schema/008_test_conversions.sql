-- Test conversions (issue 13): stored and decided like any other, but they reserve no invoice.
-- Issue 11's 005 adds the same column (its rollups skip test rows): IF NOT EXISTS lets either
-- migration come first.
ALTER TABLE conversions ADD COLUMN IF NOT EXISTS test BOOLEAN NOT NULL DEFAULT false;

-- The invoice index becomes partial: a test conversion is never a duplicate, and a later real
-- conversion with the same id is not one of it. The index keeps its columns, whatever an earlier
-- migration made them (issue 12's 007 adds event), so it is rebuilt from its own definition.
DO $$
DECLARE
    def TEXT := pg_get_indexdef('conversions_invoice_uq'::regclass);
BEGIN
    IF def NOT LIKE '%NOT test%' THEN
        DROP INDEX conversions_invoice_uq;
        EXECUTE regexp_replace(def, 'WHERE \((.*)\)$', 'WHERE ((\1) AND NOT test)');
    END IF;
END
$$;
