"""Migration 7: batches an ingest is still writing.

An ingest appends a file's rows in slices, each its own short transaction, so that it never
holds the store for long; until its last slice is in, its batch is listed here and readers
leave its rows out (core.store.pending.published). Publishing records the batch in
ingest_batches and deletes its row here, in one transaction. A batch left here by an ingest
that died is deleted, rows and all, by the next ingest of its model or the next open.
"""

VERSION = 7

SQL = """
CREATE TABLE pending_batches (
    batch_id    BIGINT PRIMARY KEY,
    kind        VARCHAR NOT NULL,
    model_name  VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL,
    started_at  TIMESTAMP NOT NULL
);
"""
