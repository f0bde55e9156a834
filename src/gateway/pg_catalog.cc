#include <fmt/format.h>

#include "gateway/pg_catalog_internal.h"

namespace sluice::gateway::detail {

namespace {

std::string lit(const std::string& v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

// oid, typname, format_type text, typlen, typcategory, typelem, typarray.
constexpr const char* kTypes = R"sql(
CREATE TABLE sluice_pg.types AS SELECT * FROM (VALUES
 (16, 'bool', 'boolean', 1, 'B', 0, 1000), (17, 'bytea', 'bytea', -1, 'U', 0, 1001),
 (18, 'char', '"char"', 1, 'S', 0, 1002), (19, 'name', 'name', 64, 'S', 0, 1003),
 (20, 'int8', 'bigint', 8, 'N', 0, 1016), (21, 'int2', 'smallint', 2, 'N', 0, 1005),
 (23, 'int4', 'integer', 4, 'N', 0, 1007), (25, 'text', 'text', -1, 'S', 0, 1009),
 (26, 'oid', 'oid', 4, 'N', 0, 1028), (114, 'json', 'json', -1, 'U', 0, 199),
 (700, 'float4', 'real', 4, 'N', 0, 1021), (701, 'float8', 'double precision', 8, 'N', 0, 1022),
 (705, 'unknown', 'unknown', -2, 'X', 0, 0), (1043, 'varchar', 'character varying', -1, 'S', 0, 1015),
 (1082, 'date', 'date', 4, 'D', 0, 1182), (1083, 'time', 'time without time zone', 8, 'D', 0, 1183),
 (1114, 'timestamp', 'timestamp without time zone', 8, 'D', 0, 1115),
 (1184, 'timestamptz', 'timestamp with time zone', 8, 'D', 0, 1185),
 (1186, 'interval', 'interval', 16, 'T', 0, 1187), (1266, 'timetz', 'time with time zone', 12, 'D', 0, 1270),
 (1700, 'numeric', 'numeric', -1, 'N', 0, 1231), (2950, 'uuid', 'uuid', 16, 'U', 0, 2951),
 (2249, 'record', 'record', -1, 'P', 0, 2287),
 (1000, '_bool', 'boolean[]', -1, 'A', 16, 0), (1001, '_bytea', 'bytea[]', -1, 'A', 17, 0),
 (1002, '_char', '"char"[]', -1, 'A', 18, 0), (1003, '_name', 'name[]', -1, 'A', 19, 0),
 (1016, '_int8', 'bigint[]', -1, 'A', 20, 0), (1005, '_int2', 'smallint[]', -1, 'A', 21, 0),
 (1007, '_int4', 'integer[]', -1, 'A', 23, 0), (1009, '_text', 'text[]', -1, 'A', 25, 0),
 (1028, '_oid', 'oid[]', -1, 'A', 26, 0), (199, '_json', 'json[]', -1, 'A', 114, 0),
 (1021, '_float4', 'real[]', -1, 'A', 700, 0), (1022, '_float8', 'double precision[]', -1, 'A', 701, 0),
 (1015, '_varchar', 'character varying[]', -1, 'A', 1043, 0), (1182, '_date', 'date[]', -1, 'A', 1082, 0),
 (1183, '_time', 'time without time zone[]', -1, 'A', 1083, 0),
 (1115, '_timestamp', 'timestamp without time zone[]', -1, 'A', 1114, 0),
 (1185, '_timestamptz', 'timestamp with time zone[]', -1, 'A', 1184, 0),
 (1187, '_interval', 'interval[]', -1, 'A', 1186, 0), (1270, '_timetz', 'time with time zone[]', -1, 'A', 1266, 0),
 (1231, '_numeric', 'numeric[]', -1, 'A', 1700, 0), (2951, '_uuid', 'uuid[]', -1, 'A', 2950, 0),
 (2287, '_record', 'record[]', -1, 'A', 2249, 0)
) t(oid, typname, fmt, typlen, typcategory, typelem, typarray);
)sql";

constexpr const char* kSetup = R"sql(
CREATE TABLE sluice_pg.lake_ns (nspname VARCHAR);
CREATE TABLE sluice_pg.users (oid BIGINT, rolname VARCHAR, rolsuper BOOLEAN);
CREATE TABLE sluice_pg.settings (name VARCHAR, setting VARCHAR);

CREATE MACRO sluice_pg.base_oid(dt) AS CASE
  WHEN dt = 'BOOLEAN' THEN 16
  WHEN dt IN ('TINYINT', 'SMALLINT', 'UTINYINT') THEN 21
  WHEN dt IN ('INTEGER', 'USMALLINT') THEN 23
  WHEN dt IN ('BIGINT', 'UINTEGER') THEN 20
  WHEN dt = 'FLOAT' THEN 700 WHEN dt = 'DOUBLE' THEN 701
  WHEN dt LIKE 'DECIMAL%' OR dt IN ('HUGEINT', 'UBIGINT', 'UHUGEINT', 'VARINT') THEN 1700
  WHEN dt = 'VARCHAR' THEN 1043 WHEN dt = 'JSON' THEN 114 WHEN dt = 'BLOB' THEN 17
  WHEN dt = 'DATE' THEN 1082 WHEN dt = 'TIME' THEN 1083
  WHEN dt IN ('TIMESTAMP', 'TIMESTAMP_S', 'TIMESTAMP_MS', 'TIMESTAMP_NS') THEN 1114
  WHEN dt = 'TIMESTAMP WITH TIME ZONE' THEN 1184 WHEN dt = 'TIME WITH TIME ZONE' THEN 1266
  WHEN dt = 'INTERVAL' THEN 1186 WHEN dt = 'UUID' THEN 2950 ELSE 25 END;
CREATE MACRO sluice_pg.type_oid(dt) AS CASE
  WHEN dt LIKE '%[]' THEN coalesce((SELECT typarray FROM sluice_pg.types
       WHERE oid = sluice_pg.base_oid(regexp_replace(dt, '(\[\d*\])+$', '')) AND typarray <> 0), 1009)
  ELSE sluice_pg.base_oid(dt) END;
CREATE MACRO sluice_pg.type_mod(dt) AS CASE
  WHEN regexp_matches(dt, '^DECIMAL\(\d+,\d+\)')
  THEN CAST(regexp_extract(dt, '^DECIMAL\((\d+),(\d+)\)', 1) AS INTEGER) * 65536
       + CAST(regexp_extract(dt, '^DECIMAL\((\d+),(\d+)\)', 2) AS INTEGER) + 4
  ELSE -1 END;

CREATE MACRO sluice_pg.format_type(t, m) AS CASE
  WHEN t IS NULL THEN NULL
  WHEN t = 1700 AND m >= 4 THEN 'numeric(' || ((m - 4) // 65536) || ',' || ((m - 4) % 65536) || ')'
  WHEN t = 1231 AND m >= 4 THEN 'numeric(' || ((m - 4) // 65536) || ',' || ((m - 4) % 65536) || ')[]'
  ELSE coalesce((SELECT fmt FROM sluice_pg.types WHERE oid = t), '???') END;

CREATE VIEW sluice_pg.pg_namespace AS
  SELECT CAST(oid AS BIGINT) AS oid, schema_name AS nspname, CAST(10 AS BIGINT) AS nspowner,
         CAST(NULL AS VARCHAR[]) AS nspacl
  FROM duckdb_schemas()
  WHERE (database_name = 'memory' AND schema_name NOT IN ('sluice_pg', '__sluice_cache'))
     OR (database_name = 'system' AND schema_name IN ('pg_catalog', 'information_schema'));

CREATE VIEW sluice_pg.pg_class AS
  SELECT CAST(oid AS BIGINT) AS oid, relname, CAST(relnamespace AS BIGINT) AS relnamespace,
    CAST(0 AS BIGINT) AS reltype, CAST(0 AS BIGINT) AS reloftype, CAST(10 AS BIGINT) AS relowner,
    CAST(CASE WHEN relkind = 'r' THEN 2 ELSE 0 END AS BIGINT) AS relam,
    CAST(oid AS BIGINT) AS relfilenode, CAST(0 AS BIGINT) AS reltablespace, 0 AS relpages,
    CAST(reltuples AS FLOAT) AS reltuples, 0 AS relallvisible, CAST(0 AS BIGINT) AS reltoastrelid,
    false AS relhasindex, false AS relisshared, 'p' AS relpersistence, relkind,
    CAST(relnatts AS SMALLINT) AS relnatts, CAST(0 AS SMALLINT) AS relchecks, false AS relhasoids,
    false AS relhasrules, false AS relhastriggers, false AS relhassubclass,
    false AS relrowsecurity, false AS relforcerowsecurity, true AS relispopulated,
    'd' AS relreplident, false AS relispartition, CAST(0 AS BIGINT) AS relrewrite,
    CAST(0 AS BIGINT) AS relfrozenxid, CAST(0 AS BIGINT) AS relminmxid,
    CAST(NULL AS VARCHAR[]) AS relacl, CAST(NULL AS VARCHAR[]) AS reloptions,
    CAST(NULL AS VARCHAR) AS relpartbound
  FROM (
    SELECT table_oid AS oid, table_name AS relname, schema_oid AS relnamespace, 'r' AS relkind,
           column_count AS relnatts, coalesce(estimated_size, 0) AS reltuples
    FROM duckdb_tables() WHERE database_name = 'memory' AND NOT internal
      AND schema_name NOT IN ('sluice_pg', '__sluice_cache')
    UNION ALL
    SELECT view_oid, view_name, schema_oid,
           CASE WHEN schema_name IN (SELECT nspname FROM sluice_pg.lake_ns) THEN 'r' ELSE 'v' END,
           column_count, 0
    FROM duckdb_views() WHERE database_name = 'memory' AND NOT internal
      AND schema_name NOT IN ('sluice_pg', '__sluice_cache') AND view_name NOT LIKE '%@%');

CREATE VIEW sluice_pg.pg_attribute AS
  SELECT CAST(c.table_oid AS BIGINT) AS attrelid, c.column_name AS attname,
    CAST(sluice_pg.type_oid(c.data_type) AS BIGINT) AS atttypid, -1 AS attstattarget,
    CAST(coalesce((SELECT typlen FROM sluice_pg.types t WHERE t.oid = sluice_pg.type_oid(c.data_type)), -1) AS SMALLINT) AS attlen,
    CAST(c.column_index AS SMALLINT) AS attnum,
    CASE WHEN c.data_type LIKE '%[]' THEN 1 ELSE 0 END AS attndims, -1 AS attcacheoff,
    sluice_pg.type_mod(c.data_type) AS atttypmod, false AS attbyval, 'p' AS attstorage,
    'i' AS attalign, NOT c.is_nullable AS attnotnull, c.column_default IS NOT NULL AS atthasdef,
    false AS atthasmissing, '' AS attidentity, '' AS attgenerated, false AS attisdropped,
    true AS attislocal, 0 AS attinhcount, CAST(0 AS BIGINT) AS attcollation,
    CAST(NULL AS VARCHAR[]) AS attacl, CAST(NULL AS VARCHAR[]) AS attoptions,
    CAST(NULL AS VARCHAR[]) AS attfdwoptions, CAST(NULL AS VARCHAR) AS attmissingval,
    '' AS attcompression
  FROM duckdb_columns() c
  WHERE c.database_name = 'memory' AND c.schema_name NOT IN ('sluice_pg', '__sluice_cache')
    AND c.table_name NOT LIKE '%@%';

CREATE VIEW sluice_pg.pg_type AS
  SELECT CAST(oid AS BIGINT) AS oid, typname,
    CAST((SELECT oid FROM duckdb_schemas() WHERE schema_name = 'pg_catalog' LIMIT 1) AS BIGINT) AS typnamespace,
    CAST(10 AS BIGINT) AS typowner, CAST(typlen AS SMALLINT) AS typlen,
    typlen BETWEEN 1 AND 8 AS typbyval, CASE WHEN typcategory = 'P' THEN 'p' ELSE 'b' END AS typtype,
    typcategory, false AS typispreferred, true AS typisdefined, ',' AS typdelim,
    CAST(0 AS BIGINT) AS typrelid, CAST(0 AS BIGINT) AS typsubscript,
    CAST(typelem AS BIGINT) AS typelem, CAST(typarray AS BIGINT) AS typarray,
    typname || 'in' AS typinput, typname || 'out' AS typoutput, typname || 'recv' AS typreceive,
    typname || 'send' AS typsend, CAST(0 AS BIGINT) AS typmodin, CAST(0 AS BIGINT) AS typmodout,
    CAST(0 AS BIGINT) AS typanalyze, 'i' AS typalign, 'p' AS typstorage, false AS typnotnull,
    CAST(0 AS BIGINT) AS typbasetype, -1 AS typtypmod, 0 AS typndims,
    CAST(0 AS BIGINT) AS typcollation, CAST(NULL AS VARCHAR) AS typdefaultbin,
    CAST(NULL AS VARCHAR) AS typdefault, CAST(NULL AS VARCHAR[]) AS typacl
  FROM sluice_pg.types;

CREATE VIEW sluice_pg.pg_database AS
  SELECT CAST(16384 AS BIGINT) AS oid, sluice_pg.current_database() AS datname,
    CAST(10 AS BIGINT) AS datdba, 6 AS encoding, 'c' AS datlocprovider, false AS datistemplate,
    true AS datallowconn, -1 AS datconnlimit, CAST(0 AS BIGINT) AS datfrozenxid,
    CAST(0 AS BIGINT) AS datminmxid, CAST(1663 AS BIGINT) AS dattablespace, 'C' AS datcollate,
    'C' AS datctype, CAST(NULL AS VARCHAR) AS daticulocale, CAST(NULL AS VARCHAR) AS datcollversion,
    CAST(NULL AS VARCHAR[]) AS datacl;

CREATE VIEW sluice_pg.pg_roles AS
  SELECT rolname, rolsuper, true AS rolinherit, rolsuper AS rolcreaterole, rolsuper AS rolcreatedb,
    true AS rolcanlogin, false AS rolreplication, -1 AS rolconnlimit, '********' AS rolpassword,
    CAST(NULL AS TIMESTAMPTZ) AS rolvaliduntil, rolsuper AS rolbypassrls,
    CAST(NULL AS VARCHAR[]) AS rolconfig, oid
  FROM sluice_pg.users;
CREATE VIEW sluice_pg.pg_authid AS SELECT * FROM sluice_pg.pg_roles;
CREATE VIEW sluice_pg.pg_user AS
  SELECT rolname AS usename, oid AS usesysid, rolcreatedb AS usecreatedb, rolsuper AS usesuper,
    false AS userepl, rolbypassrls AS usebypassrls, '********' AS passwd,
    rolvaliduntil AS valuntil, rolconfig AS useconfig
  FROM sluice_pg.pg_roles;

CREATE VIEW sluice_pg.pg_tables AS
  SELECT n.nspname AS schemaname, c.relname AS tablename, 'sluice' AS tableowner,
    CAST(NULL AS VARCHAR) AS tablespace, false AS hasindexes, false AS hasrules,
    false AS hastriggers, false AS rowsecurity
  FROM sluice_pg.pg_class c JOIN sluice_pg.pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind = 'r';
CREATE VIEW sluice_pg.pg_views AS
  SELECT schema_name AS schemaname, view_name AS viewname, 'sluice' AS viewowner, sql AS definition
  FROM duckdb_views() WHERE database_name = 'memory' AND NOT internal
    AND schema_name NOT IN ('sluice_pg', '__sluice_cache') AND view_name NOT LIKE '%@%'
    AND schema_name NOT IN (SELECT nspname FROM sluice_pg.lake_ns);
CREATE VIEW sluice_pg.pg_matviews AS
  SELECT '' AS schemaname, '' AS matviewname, '' AS matviewowner, '' AS tablespace,
    false AS hasindexes, false AS ispopulated, '' AS definition WHERE false;
CREATE VIEW sluice_pg.pg_settings AS
  SELECT name, setting, CAST(NULL AS VARCHAR) AS unit, 'Sluice' AS category, '' AS short_desc,
    '' AS extra_desc, 'user' AS context, 'string' AS vartype, 'session' AS source,
    CAST(NULL AS VARCHAR) AS min_val, CAST(NULL AS VARCHAR) AS max_val,
    CAST(NULL AS VARCHAR[]) AS enumvals, setting AS boot_val, setting AS reset_val,
    CAST(NULL AS VARCHAR) AS sourcefile, CAST(NULL AS INTEGER) AS sourceline,
    false AS pending_restart
  FROM sluice_pg.settings;
CREATE VIEW sluice_pg.pg_am AS
  SELECT * FROM (VALUES (CAST(2 AS BIGINT), 'heap', 'heap_tableam_handler', 't'),
                        (CAST(403 AS BIGINT), 'btree', 'bthandler', 'i'))
    t(oid, amname, amhandler, amtype);
CREATE VIEW sluice_pg.pg_tablespace AS
  SELECT * FROM (VALUES (CAST(1663 AS BIGINT), 'pg_default', CAST(10 AS BIGINT),
                         CAST(NULL AS VARCHAR[]), CAST(NULL AS VARCHAR[])))
    t(oid, spcname, spcowner, spcacl, spcoptions);
CREATE VIEW sluice_pg.pg_language AS
  SELECT * FROM (VALUES (CAST(14 AS BIGINT), 'sql'), (CAST(12 AS BIGINT), 'internal')) t(oid, lanname);
CREATE VIEW sluice_pg.pg_proc AS
  SELECT CAST(0 AS BIGINT) AS oid, '' AS proname, CAST(0 AS BIGINT) AS pronamespace,
    CAST(10 AS BIGINT) AS proowner, CAST(0 AS BIGINT) AS prolang, 0.0 AS procost, 0.0 AS prorows,
    CAST(0 AS BIGINT) AS provariadic, CAST(0 AS BIGINT) AS prosupport, 'f' AS prokind,
    false AS prosecdef, false AS proleakproof, false AS proisstrict, false AS proretset,
    'v' AS provolatile, 'u' AS proparallel, 0 AS pronargs, 0 AS pronargdefaults,
    CAST(0 AS BIGINT) AS prorettype, '' AS proargtypes, CAST(NULL AS BIGINT[]) AS proallargtypes,
    CAST(NULL AS VARCHAR[]) AS proargmodes, CAST(NULL AS VARCHAR[]) AS proargnames,
    CAST(NULL AS VARCHAR) AS proargdefaults, CAST(NULL AS BIGINT[]) AS protrftypes,
    '' AS prosrc, '' AS probin, CAST(NULL AS VARCHAR) AS prosqlbody,
    CAST(NULL AS VARCHAR[]) AS proconfig, CAST(NULL AS VARCHAR[]) AS proacl
  WHERE false;
CREATE VIEW sluice_pg.pg_stat_activity AS
  SELECT CAST(16384 AS BIGINT) AS datid, sluice_pg.current_database() AS datname,
    sluice_pg.pg_backend_pid() AS pid, sluice_pg.login_user() AS usename,
    '' AS application_name, CAST(NULL AS VARCHAR) AS client_addr, now() AS backend_start,
    now() AS xact_start, now() AS query_start, 'active' AS state, '' AS query;

CREATE TABLE sluice_pg.pg_attrdef (oid BIGINT, adrelid BIGINT, adnum SMALLINT, adbin VARCHAR);
CREATE TABLE sluice_pg.pg_description (objoid BIGINT, classoid BIGINT, objsubid INTEGER, description VARCHAR);
CREATE TABLE sluice_pg.pg_shdescription (objoid BIGINT, classoid BIGINT, description VARCHAR);
CREATE TABLE sluice_pg.pg_index (indexrelid BIGINT, indrelid BIGINT, indnatts SMALLINT,
  indnkeyatts SMALLINT, indisunique BOOLEAN, indnullsnotdistinct BOOLEAN, indisprimary BOOLEAN,
  indisexclusion BOOLEAN, indimmediate BOOLEAN, indisclustered BOOLEAN, indisvalid BOOLEAN,
  indcheckxmin BOOLEAN, indisready BOOLEAN, indislive BOOLEAN, indisreplident BOOLEAN,
  indkey SMALLINT[], indcollation BIGINT[], indclass BIGINT[], indoption SMALLINT[],
  indexprs VARCHAR, indpred VARCHAR);
CREATE VIEW sluice_pg.pg_indexes AS SELECT '' AS schemaname, '' AS tablename, '' AS indexname,
  CAST(NULL AS VARCHAR) AS tablespace, '' AS indexdef WHERE false;
CREATE TABLE sluice_pg.pg_constraint (oid BIGINT, conname VARCHAR, connamespace BIGINT,
  contype VARCHAR, condeferrable BOOLEAN, condeferred BOOLEAN, convalidated BOOLEAN,
  conrelid BIGINT, contypid BIGINT, conindid BIGINT, conparentid BIGINT, confrelid BIGINT,
  confupdtype VARCHAR, confdeltype VARCHAR, confmatchtype VARCHAR, conislocal BOOLEAN,
  coninhcount INTEGER, connoinherit BOOLEAN, conkey SMALLINT[], confkey SMALLINT[],
  conpfeqop BIGINT[], conppeqop BIGINT[], conffeqop BIGINT[], confdelsetcols SMALLINT[],
  conexclop BIGINT[], conbin VARCHAR);
CREATE TABLE sluice_pg.pg_inherits (inhrelid BIGINT, inhparent BIGINT, inhseqno INTEGER, inhdetachpending BOOLEAN);
CREATE TABLE sluice_pg.pg_collation (oid BIGINT, collname VARCHAR, collnamespace BIGINT,
  collowner BIGINT, collprovider VARCHAR, collisdeterministic BOOLEAN, collencoding INTEGER,
  collcollate VARCHAR, collctype VARCHAR, colliculocale VARCHAR, collversion VARCHAR);
CREATE TABLE sluice_pg.pg_enum (oid BIGINT, enumtypid BIGINT, enumsortorder FLOAT, enumlabel VARCHAR);
CREATE TABLE sluice_pg.pg_range (rngtypid BIGINT, rngsubtype BIGINT, rngmultitypid BIGINT,
  rngcollation BIGINT, rngsubopc BIGINT, rngcanonical VARCHAR, rngsubdiff VARCHAR);
CREATE TABLE sluice_pg.pg_extension (oid BIGINT, extname VARCHAR, extowner BIGINT,
  extnamespace BIGINT, extrelocatable BOOLEAN, extversion VARCHAR, extconfig BIGINT[], extcondition VARCHAR[]);
CREATE TABLE sluice_pg.pg_sequence (seqrelid BIGINT, seqtypid BIGINT, seqstart BIGINT,
  seqincrement BIGINT, seqmax BIGINT, seqmin BIGINT, seqcache BIGINT, seqcycle BOOLEAN);
CREATE TABLE sluice_pg.pg_depend (classid BIGINT, objid BIGINT, objsubid INTEGER,
  refclassid BIGINT, refobjid BIGINT, refobjsubid INTEGER, deptype VARCHAR);
CREATE TABLE sluice_pg.pg_trigger (oid BIGINT, tgrelid BIGINT, tgparentid BIGINT, tgname VARCHAR,
  tgfoid BIGINT, tgtype SMALLINT, tgenabled VARCHAR, tgisinternal BOOLEAN, tgconstrrelid BIGINT,
  tgconstrindid BIGINT, tgconstraint BIGINT, tgdeferrable BOOLEAN, tginitdeferred BOOLEAN,
  tgnargs SMALLINT, tgattr SMALLINT[], tgargs VARCHAR, tgqual VARCHAR, tgoldtable VARCHAR, tgnewtable VARCHAR);
CREATE TABLE sluice_pg.pg_policy (oid BIGINT, polname VARCHAR, polrelid BIGINT, polcmd VARCHAR,
  polpermissive BOOLEAN, polroles BIGINT[], polqual VARCHAR, polwithcheck VARCHAR);
CREATE TABLE sluice_pg.pg_statistic_ext (oid BIGINT, stxrelid BIGINT, stxname VARCHAR,
  stxnamespace BIGINT, stxowner BIGINT, stxstattarget INTEGER, stxkeys SMALLINT[], stxkind VARCHAR[], stxexprs VARCHAR);
CREATE TABLE sluice_pg.pg_publication (oid BIGINT, pubname VARCHAR, pubowner BIGINT,
  puballtables BOOLEAN, pubinsert BOOLEAN, pubupdate BOOLEAN, pubdelete BOOLEAN,
  pubtruncate BOOLEAN, pubviaroot BOOLEAN);
CREATE TABLE sluice_pg.pg_publication_rel (oid BIGINT, prpubid BIGINT, prrelid BIGINT, prqual VARCHAR, prattrs SMALLINT[]);
CREATE TABLE sluice_pg.pg_publication_namespace (oid BIGINT, pnpubid BIGINT, pnnspid BIGINT);
CREATE TABLE sluice_pg.pg_foreign_table (ftrelid BIGINT, ftserver BIGINT, ftoptions VARCHAR[]);
CREATE TABLE sluice_pg.pg_foreign_server (oid BIGINT, srvname VARCHAR, srvowner BIGINT, srvfdw BIGINT,
  srvtype VARCHAR, srvversion VARCHAR, srvacl VARCHAR[], srvoptions VARCHAR[]);
CREATE TABLE sluice_pg.pg_foreign_data_wrapper (oid BIGINT, fdwname VARCHAR, fdwowner BIGINT,
  fdwhandler BIGINT, fdwvalidator BIGINT, fdwacl VARCHAR[], fdwoptions VARCHAR[]);
CREATE TABLE sluice_pg.pg_partitioned_table (partrelid BIGINT, partstrat VARCHAR, partnatts SMALLINT,
  partdefid BIGINT, partattrs SMALLINT[], partclass BIGINT[], partcollation BIGINT[], partexprs VARCHAR);
CREATE TABLE sluice_pg.pg_rewrite (oid BIGINT, rulename VARCHAR, ev_class BIGINT, ev_type VARCHAR,
  ev_enabled VARCHAR, is_instead BOOLEAN, ev_qual VARCHAR, ev_action VARCHAR);
CREATE TABLE sluice_pg.pg_event_trigger (oid BIGINT, evtname VARCHAR, evtevent VARCHAR,
  evtowner BIGINT, evtfoid BIGINT, evtenabled VARCHAR, evttags VARCHAR[]);
CREATE TABLE sluice_pg.pg_operator (oid BIGINT, oprname VARCHAR, oprnamespace BIGINT, oprowner BIGINT,
  oprkind VARCHAR, oprleft BIGINT, oprright BIGINT, oprresult BIGINT, oprcode VARCHAR);
CREATE TABLE sluice_pg.pg_cast (oid BIGINT, castsource BIGINT, casttarget BIGINT, castfunc BIGINT,
  castcontext VARCHAR, castmethod VARCHAR);
CREATE TABLE sluice_pg.pg_opclass (oid BIGINT, opcmethod BIGINT, opcname VARCHAR, opcnamespace BIGINT,
  opcowner BIGINT, opcfamily BIGINT, opcintype BIGINT, opcdefault BOOLEAN, opckeytype BIGINT);
CREATE TABLE sluice_pg.pg_aggregate (aggfnoid BIGINT, aggkind VARCHAR, aggnumdirectargs SMALLINT);
CREATE TABLE sluice_pg.pg_auth_members (oid BIGINT, roleid BIGINT, member BIGINT, grantor BIGINT, admin_option BOOLEAN);
CREATE TABLE sluice_pg.pg_db_role_setting (setdatabase BIGINT, setrole BIGINT, setconfig VARCHAR[]);
CREATE TABLE sluice_pg.pg_default_acl (oid BIGINT, defaclrole BIGINT, defaclnamespace BIGINT,
  defaclobjtype VARCHAR, defaclacl VARCHAR[]);
CREATE TABLE sluice_pg.pg_init_privs (objoid BIGINT, classoid BIGINT, objsubid INTEGER,
  privtype VARCHAR, initprivs VARCHAR[]);
CREATE TABLE sluice_pg.pg_conversion (oid BIGINT, conname VARCHAR, connamespace BIGINT);

CREATE VIEW sluice_pg.is_tables AS
  SELECT * REPLACE (CASE WHEN table_schema IN (SELECT nspname FROM sluice_pg.lake_ns)
                          AND table_type = 'VIEW' THEN 'BASE TABLE' ELSE table_type END AS table_type)
  FROM information_schema.tables
  WHERE table_schema NOT IN ('sluice_pg', '__sluice_cache') AND table_name NOT LIKE '%@%';
CREATE VIEW sluice_pg.is_columns AS
  SELECT * REPLACE (coalesce((SELECT CASE WHEN t.typcategory = 'A' THEN 'ARRAY' ELSE t.fmt END
                              FROM sluice_pg.types t WHERE t.oid = sluice_pg.type_oid(data_type)),
                             lower(data_type)) AS data_type,
            coalesce((SELECT t.typname FROM sluice_pg.types t
                      WHERE t.oid = sluice_pg.type_oid(data_type)), lower(data_type)) AS udt_name)
  FROM information_schema.columns
  WHERE table_schema NOT IN ('sluice_pg', '__sluice_cache') AND table_name NOT LIKE '%@%';
CREATE VIEW sluice_pg.is_schemata AS
  SELECT * FROM information_schema.schemata
  WHERE (catalog_name = 'memory' AND schema_name NOT IN ('sluice_pg', '__sluice_cache'))
     OR (catalog_name = 'system' AND schema_name IN ('pg_catalog', 'information_schema'));
CREATE VIEW sluice_pg.is_views AS
  SELECT * FROM information_schema.views
  WHERE table_schema NOT IN ('sluice_pg', '__sluice_cache') AND table_name NOT LIKE '%@%'
    AND table_schema NOT IN (SELECT nspname FROM sluice_pg.lake_ns);

CREATE MACRO sluice_pg.pg_get_userbyid(x) AS
  coalesce((SELECT rolname FROM sluice_pg.users u WHERE u.oid = x LIMIT 1), 'sluice');
CREATE MACRO sluice_pg.pg_table_is_visible(x) AS true;
CREATE MACRO sluice_pg.pg_type_is_visible(x) AS true;
CREATE MACRO sluice_pg.pg_function_is_visible(x) AS true;
CREATE MACRO sluice_pg.pg_get_expr(a, b) AS CAST(NULL AS VARCHAR), (a, b, c) AS CAST(NULL AS VARCHAR);
CREATE MACRO sluice_pg.pg_encoding_to_char(e) AS 'UTF8';
CREATE MACRO sluice_pg.current_schemas(b) AS
  CASE WHEN b THEN list_prepend('pg_catalog', sluice_pg.search_path_list()) ELSE sluice_pg.search_path_list() END;
CREATE MACRO sluice_pg.pg_get_indexdef(a) AS CAST(NULL AS VARCHAR), (a, b, c) AS CAST(NULL AS VARCHAR);
CREATE MACRO sluice_pg.pg_get_constraintdef(a) AS CAST(NULL AS VARCHAR), (a, b) AS CAST(NULL AS VARCHAR);
CREATE MACRO sluice_pg.obj_description(a) AS CAST(NULL AS VARCHAR), (a, b) AS CAST(NULL AS VARCHAR);
CREATE MACRO sluice_pg.col_description(a, b) AS CAST(NULL AS VARCHAR);
CREATE MACRO sluice_pg.shobj_description(a, b) AS CAST(NULL AS VARCHAR);
CREATE MACRO sluice_pg.pg_get_viewdef(a) AS (SELECT sql FROM duckdb_views() WHERE view_oid = a LIMIT 1),
  (a, b) AS (SELECT sql FROM duckdb_views() WHERE view_oid = a LIMIT 1);
CREATE MACRO sluice_pg.has_table_privilege(a, b) AS true, (a, b, c) AS true;
CREATE MACRO sluice_pg.has_schema_privilege(a, b) AS true, (a, b, c) AS true;
CREATE MACRO sluice_pg.has_database_privilege(a, b) AS true, (a, b, c) AS true;
CREATE MACRO sluice_pg.pg_has_role(a, b) AS true, (a, b, c) AS true;
CREATE MACRO sluice_pg.pg_is_in_recovery() AS false;
CREATE MACRO sluice_pg.pg_postmaster_start_time() AS CAST(now() AS TIMESTAMPTZ);
CREATE MACRO sluice_pg.current_setting(n) AS
  (SELECT setting FROM sluice_pg.settings s WHERE s.name = lower(n) LIMIT 1),
  (n, missing_ok) AS (SELECT setting FROM sluice_pg.settings s WHERE s.name = lower(n) LIMIT 1);
CREATE MACRO sluice_pg.pg_total_relation_size(x) AS CAST(0 AS BIGINT);
CREATE MACRO sluice_pg.pg_relation_size(x) AS CAST(0 AS BIGINT), (x, f) AS CAST(0 AS BIGINT);
CREATE MACRO sluice_pg.pg_table_size(x) AS CAST(0 AS BIGINT);
CREATE MACRO sluice_pg.pg_size_pretty(x) AS format_bytes(CAST(x AS BIGINT));
CREATE MACRO sluice_pg.array_upper(a, d) AS CASE WHEN len(a) > 0 THEN len(a) END;
CREATE MACRO sluice_pg.array_lower(a, d) AS CASE WHEN len(a) > 0 THEN 1 END;
CREATE MACRO sluice_pg.pg_get_partkeydef(x) AS CAST(NULL AS VARCHAR);
CREATE MACRO sluice_pg.pg_get_statisticsobjdef_columns(x) AS CAST(NULL AS VARCHAR);
CREATE MACRO sluice_pg.txid_current() AS CAST(1 AS BIGINT);
CREATE MACRO sluice_pg.pg_current_xact_id() AS CAST(1 AS BIGINT);
CREATE MACRO sluice_pg.pg_get_serial_sequence(a, b) AS CAST(NULL AS VARCHAR);
CREATE MACRO sluice_pg.pg_get_function_identity_arguments(x) AS '';
CREATE MACRO sluice_pg.pg_get_function_result(x) AS '';
CREATE MACRO sluice_pg.pg_get_function_arguments(x) AS '';
CREATE MACRO sluice_pg.quote_ident(x) AS
  CASE WHEN regexp_matches(x, '^[a-z_][a-z0-9_]*$') THEN x ELSE '"' || replace(x, '"', '""') || '"' END;
CREATE MACRO sluice_pg.quote_literal(x) AS '''' || replace(CAST(x AS VARCHAR), '''', '''''') || '''';
CREATE MACRO sluice_pg.parse_ident(x) AS list_transform(
  regexp_extract_all(x, '"(?:[^"]|"")*"|[^."]+'),
  lambda e: CASE WHEN e[1] = '"' THEN replace(e[2:-2], '""', '"') ELSE lower(trim(e)) END),
  (x, strict) AS list_transform(
  regexp_extract_all(x, '"(?:[^"]|"")*"|[^."]+'),
  lambda e: CASE WHEN e[1] = '"' THEN replace(e[2:-2], '""', '"') ELSE lower(trim(e)) END);
CREATE MACRO sluice_pg.pg_tablespace_location(x) AS '';
CREATE MACRO sluice_pg.pg_relation_is_publishable(x) AS false;
CREATE MACRO sluice_pg.pg_column_is_updatable(a, b, c) AS false;
CREATE MACRO sluice_pg.regclass_oid(name) AS (
  SELECT c.oid FROM sluice_pg.pg_class c JOIN sluice_pg.pg_namespace n ON n.oid = c.relnamespace
  WHERE CAST(name AS VARCHAR) = c.relname OR CAST(name AS VARCHAR) = n.nspname || '.' || c.relname
     OR CAST(name AS VARCHAR) = CAST(c.oid AS VARCHAR) LIMIT 1);
CREATE MACRO sluice_pg.regclass_name(x) AS coalesce((
  SELECT CASE WHEN n.nspname IN ('main', 'pg_catalog') THEN c.relname ELSE n.nspname || '.' || c.relname END
  FROM sluice_pg.pg_class c JOIN sluice_pg.pg_namespace n ON n.oid = c.relnamespace
  WHERE c.oid = x LIMIT 1), CAST(x AS VARCHAR));
CREATE MACRO sluice_pg.regtype_oid(name) AS (
  SELECT oid FROM sluice_pg.types WHERE typname = CAST(name AS VARCHAR) OR fmt = CAST(name AS VARCHAR) LIMIT 1);
CREATE MACRO sluice_pg.regtype_name(x) AS coalesce((SELECT fmt FROM sluice_pg.types WHERE oid = x), '-');
)sql";

}  // namespace

std::string catalog_setup_sql(const std::string& server_version_text) {
  std::string out = "CREATE SCHEMA IF NOT EXISTS sluice_pg;\n";
  out += kTypes;
  out += fmt::format("CREATE MACRO sluice_pg.version() AS {};\n", lit(server_version_text));
  // Placeholders replaced by session_macros_sql() (the views above refer to them).
  out += session_macros_sql("sluice", "sluice", {"main"}, 0);
  out += kSetup;
  return out;
}

std::string session_macros_sql(const std::string& user, const std::string& database,
                               const std::vector<std::string>& search_path, int pid) {
  std::string list = "[";
  for (size_t i = 0; i < search_path.size(); ++i) {
    if (i > 0) list += ", ";
    list += lit(search_path[i]);
  }
  list += "]";
  std::string first = search_path.empty() ? "main" : search_path[0];
  return fmt::format(
      "CREATE OR REPLACE MACRO sluice_pg.login_user() AS {0};\n"
      "CREATE OR REPLACE MACRO sluice_pg.current_database() AS {1};\n"
      "CREATE OR REPLACE MACRO sluice_pg.search_path_list() AS CAST({2} AS VARCHAR[]);\n"
      "CREATE OR REPLACE MACRO sluice_pg.cur_schema() AS {3};\n"
      "CREATE OR REPLACE MACRO sluice_pg.pg_backend_pid() AS {4};\n",
      lit(user), lit(database), list, lit(first), pid);
}

}  // namespace sluice::gateway::detail
