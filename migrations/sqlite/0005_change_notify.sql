-- PostgreSQL replicas are woken by NOTIFY (see the PostgreSQL migration); SQLite has one
-- writer process and its followers poll. Nothing to change here.
SELECT 1;
