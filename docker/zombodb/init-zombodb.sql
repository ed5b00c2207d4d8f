-- Run once by the postgres image's entrypoint when the data folder is created.
CREATE EXTENSION IF NOT EXISTS zombodb;
