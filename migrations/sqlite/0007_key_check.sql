-- One master key per deployment: a constant sealed under the key at first start. A replica
-- whose key does not open it refuses to start.
CREATE TABLE key_check (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    sealed     BLOB    NOT NULL,
    created_at INTEGER NOT NULL
);
