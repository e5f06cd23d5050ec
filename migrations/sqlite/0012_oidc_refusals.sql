-- People whose provider refused a refresh, with nothing succeeding since (no refresh, no
-- sign-in). A source with offboard_when_unrefreshable hands them to offboarding once this
-- has lasted unrefreshable_after.
CREATE TABLE oidc_refusals (
    staff_id INTEGER PRIMARY KEY REFERENCES staff (id),
    source   TEXT   NOT NULL,
    since    INTEGER NOT NULL,
    reason   TEXT   NOT NULL
);
