-- Gridwalk sync server schema, version 3 (PRAGMA user_version = 3): sign-in throttling and
-- device hand-overs. Applied in one transaction on top of version 2.

-- Sign-in throttling state, shared by every server process on this database. `key` is the hex
-- SHA-256 of 'user' or 'addr', a zero byte, and the user name or client address: no name or
-- mistyped password is stored in clear. Times are ms since the epoch.
CREATE TABLE login_throttle (
    key          TEXT PRIMARY KEY,
    window_start INTEGER NOT NULL,
    failures     INTEGER NOT NULL,   -- attempts counted in the window
    locked_until INTEGER NOT NULL,   -- refused until then; 0 = not locked
    strikes      INTEGER NOT NULL,   -- lockouts in a row (each doubles the next)
    last_failure INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX login_throttle_last ON login_throttle (last_failure);

-- A device passed from one user to another (a login with `hand_over: true`).
CREATE TABLE device_handovers (
    id             INTEGER PRIMARY KEY,
    device_id      TEXT NOT NULL REFERENCES devices (id),
    from_user      TEXT NOT NULL REFERENCES users (id),
    to_user        TEXT NOT NULL REFERENCES users (id),
    sessions_ended INTEGER NOT NULL,
    at             INTEGER NOT NULL
);
CREATE INDEX device_handovers_device ON device_handovers (device_id);

CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_device ON sessions (device_id);
