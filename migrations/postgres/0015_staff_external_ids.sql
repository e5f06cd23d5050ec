-- A change from a source names its people by their stable id (entryUUID, objectGUID, a SCIM
-- id, an OIDC sub) or DN: without these, each change read the whole staff table.
CREATE INDEX staff_external_id ON staff (external_id);
CREATE INDEX staff_external_dn ON staff (external_dn);
