"""Migration 6: sign-in throttling (exponential delays) and the clients each account trusts.

`login_throttle` holds one row per bucket: an account name (known or not, so that unknown
names behave exactly like known ones), a client, or an (account, client) pair. `failures`
counts every failed or refused attempt; `not_before` is the earliest time the bucket lets a
password be checked again. `login_trusted` remembers the clients an account signed in from,
which are exempt from the account-wide and client-wide delays a stranger can cause.
The old per-user counters (users.failed_logins, users.locked_until) are no longer read.
"""

VERSION = 6

SQL = """
CREATE TABLE login_throttle (
    bucket       VARCHAR NOT NULL,    -- account | client | pair
    subject      VARCHAR NOT NULL,
    failures     INTEGER NOT NULL,
    not_before   TIMESTAMP NOT NULL,
    last_attempt TIMESTAMP NOT NULL,
    PRIMARY KEY (bucket, subject)
);
CREATE TABLE login_trusted (
    username     VARCHAR NOT NULL,
    client       VARCHAR NOT NULL,
    last_success TIMESTAMP NOT NULL,
    PRIMARY KEY (username, client)
);
"""
