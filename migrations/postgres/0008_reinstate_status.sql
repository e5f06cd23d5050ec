-- What a person was before they were offboarded: reinstating a pending person (one who
-- never completed first login) leaves them pending.
ALTER TABLE staff ADD COLUMN status_before_offboarding TEXT;
