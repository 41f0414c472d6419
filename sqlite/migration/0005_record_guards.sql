-- The records evidence rests on may move forward but never back: an order's
-- stages and path, once recorded, stay as recorded; a pool number never
-- moves to another exposure set and is never un-retired; nothing that
-- tokens or contacts point at is deleted.

CREATE TRIGGER orders_stages_stay BEFORE UPDATE ON orders
WHEN NEW.id IS NOT OLD.id OR NEW.investigation_id IS NOT OLD.investigation_id OR NEW.ref IS NOT OLD.ref
  OR NEW.account_id IS NOT OLD.account_id OR NEW.platform_id IS NOT OLD.platform_id
  OR NEW.merchant_id IS NOT OLD.merchant_id OR NEW.payment IS NOT OLD.payment OR NEW.created_at IS NOT OLD.created_at
  OR (OLD.placed_at IS NOT NULL AND (NEW.placed_at IS NOT OLD.placed_at OR NEW.placed_text IS NOT OLD.placed_text))
  OR (OLD.shipped_at IS NOT NULL AND (NEW.shipped_at IS NOT OLD.shipped_at OR NEW.courier_id IS NOT OLD.courier_id
      OR NEW.outlet_id IS NOT OLD.outlet_id))
  OR (OLD.abandoned_at IS NOT NULL AND NEW.abandoned_at IS NOT OLD.abandoned_at)
BEGIN SELECT RAISE(ABORT, 'an order''s recorded stages and path are never altered'); END;

CREATE TRIGGER phones_set_stays BEFORE UPDATE ON phones
WHEN NEW.e164 IS NOT OLD.e164 OR NEW.imported_at IS NOT OLD.imported_at OR NEW.quarantine_until IS NOT OLD.quarantine_until
  OR (OLD.bound_to IS NOT NULL AND NEW.bound_to IS NOT OLD.bound_to)
  OR (OLD.retired_at IS NOT NULL AND NEW.retired_at IS NOT OLD.retired_at)
BEGIN SELECT RAISE(ABORT, 'a pool number never moves to another exposure set, and a retired number stays retired'); END;

CREATE TRIGGER orders_no_delete BEFORE DELETE ON orders
BEGIN SELECT RAISE(ABORT, 'orders are never deleted'); END;
CREATE TRIGGER accounts_no_delete BEFORE DELETE ON accounts
BEGIN SELECT RAISE(ABORT, 'accounts are never deleted'); END;
CREATE TRIGGER parties_no_delete BEFORE DELETE ON parties
BEGIN SELECT RAISE(ABORT, 'parties are never deleted'); END;
CREATE TRIGGER phones_no_delete BEFORE DELETE ON phones
BEGIN SELECT RAISE(ABORT, 'pool numbers are never deleted'); END;
CREATE TRIGGER investigations_no_delete BEFORE DELETE ON investigations
BEGIN SELECT RAISE(ABORT, 'investigations are never deleted'); END;
CREATE TRIGGER order_attachments_no_change BEFORE UPDATE ON order_attachments
BEGIN SELECT RAISE(ABORT, 'attachments are evidence and never altered'); END;
CREATE TRIGGER order_attachments_no_delete BEFORE DELETE ON order_attachments
BEGIN SELECT RAISE(ABORT, 'attachments are evidence and never deleted'); END;
