-- A database role for one door device, with only the rights `sputnik-edge` sync needs.
--
--   psql "$ADMIN_URL" -v device_id=door-1 -v password="$(openssl rand -base64 24)" -f device_role.sql
--
-- The device then connects as sputnik_device_<device_id> (see docs/DEPLOY.md). It can
--   * pull the gallery: read employees, face_templates, erasures (and the schema revision);
--   * push its own events and unknown faces, and send its own heartbeat;
-- and it cannot read other devices' events, heartbeats or unknown faces, change employees or
-- templates, or read anything of the office (users, tokens, audit, corrections, photos).
-- Run it again to change the password; it is idempotent. Needs a role that owns the schema.

\set ON_ERROR_STOP on
\if :{?device_id}
\else
  \echo 'set the device id: psql -v device_id=door-1 -v password=... -f device_role.sql'
  \quit
\endif
\if :{?password}
\else
  \echo 'set a password: psql -v device_id=door-1 -v password=... -f device_role.sql'
  \quit
\endif

SELECT 'sputnik_device_' || :'device_id' AS device_role \gset

BEGIN;

-- The group every device role belongs to: the grants and row policies are given to it once.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sputnik_devices') THEN
        CREATE ROLE sputnik_devices NOLOGIN;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO sputnik_devices;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM sputnik_devices;
GRANT SELECT ON alembic_version, employees, face_templates, erasures TO sputnik_devices;
GRANT SELECT (event_id, device_id), INSERT ON attendance_events TO sputnik_devices;
GRANT SELECT, INSERT, UPDATE ON devices TO sputnik_devices;
GRANT SELECT (event_id, device_id), INSERT ON unknown_faces TO sputnik_devices;

-- Which device a role is: sputnik_device_<device_id>.
CREATE OR REPLACE FUNCTION sputnik_device_of_role() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN current_user LIKE 'sputnik\_device\_%'
                THEN substr(current_user, length('sputnik_device_') + 1) END
$$;

-- Row-level security: a device role sees and writes only its own rows. Every other role (the
-- office, administrators, devices that still use a full-rights role) is unaffected.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['attendance_events', 'devices', 'unknown_faces'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        IF NOT EXISTS (SELECT FROM pg_policies WHERE tablename = t AND policyname = 'sputnik_own_device') THEN
            EXECUTE format(
                'CREATE POLICY sputnik_own_device ON %I TO sputnik_devices '
                'USING (device_id = sputnik_device_of_role()) WITH CHECK (device_id = sputnik_device_of_role())',
                t);
        END IF;
        IF NOT EXISTS (SELECT FROM pg_policies WHERE tablename = t AND policyname = 'sputnik_not_a_device') THEN
            EXECUTE format(
                'CREATE POLICY sputnik_not_a_device ON %I TO PUBLIC '
                'USING (NOT pg_has_role(current_user, ''sputnik_devices'', ''MEMBER'')) '
                'WITH CHECK (NOT pg_has_role(current_user, ''sputnik_devices'', ''MEMBER''))',
                t);
        END IF;
    END LOOP;
END
$$;

SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'device_role') AS create_role \gset
\if :create_role
    CREATE ROLE :"device_role" LOGIN PASSWORD :'password' IN ROLE sputnik_devices;
\else
    ALTER ROLE :"device_role" LOGIN PASSWORD :'password';
    GRANT sputnik_devices TO :"device_role";
\endif
ALTER ROLE :"device_role" SET statement_timeout = '30s';

COMMIT;

\echo device role :device_role is ready
