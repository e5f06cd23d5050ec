-- Wakes every replica when the change log (the audit chain) moves. Delivered at commit;
-- repeated notifications within one transaction fold into one.
CREATE FUNCTION staffgate_changes_notify() RETURNS trigger AS $$
BEGIN PERFORM pg_notify('staffgate_changes', ''); RETURN NULL; END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_head_notify AFTER UPDATE ON audit_head
FOR EACH ROW EXECUTE FUNCTION staffgate_changes_notify();
