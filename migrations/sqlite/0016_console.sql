-- The console's People list filters by group and reads each row's last sign-in;
-- Offboardings page lists receipts newest first.
CREATE INDEX staff_groups_group ON staff_groups (group_name, staff_id);
CREATE INDEX sessions_staff ON sessions (staff_id, created_at);
-- The time zone a schedule was entered in, to show it back the same way (NULL: UTC offset).
ALTER TABLE scheduled_offboardings ADD COLUMN zone TEXT;
