-- Run once by the postgres image on an empty volume (docker-entrypoint-initdb.d): one role per
-- application, so trackflow and Temporal can be backed up, restored and limited apart.
-- Laptop passwords: compose.yaml names the same ones.
CREATE ROLE trackflow LOGIN PASSWORD 'trackflow';
CREATE DATABASE trackflow OWNER trackflow;
-- temporal-sql-tool creates the temporal and temporal_visibility databases itself.
CREATE ROLE temporal LOGIN CREATEDB PASSWORD 'temporal';
