// Unit tests: message codec bounds checks, SQLSTATE mapping, type formatting, SQL scanning.
#include <gtest/gtest.h>

#include <random>

#include "gateway/pg_types.h"
#include "gateway/pg_wire.h"
#include "gateway/sql_scan_internal.h"
#include "gateway/sqlstate.h"

namespace sluice::gateway {
namespace {

TEST(Wire, StartupParsesParameters) {
  Writer w;
  w.i32(kProtocolV3);
  w.cstr("user");
  w.cstr("ana");
  w.cstr("database");
  w.cstr("sluice");
  w.i8(0);
  auto m = parse_startup(w.buffer());
  ASSERT_TRUE(m.is_ok());
  EXPECT_EQ(m->params["user"], "ana");
  EXPECT_EQ(m->params["database"], "sluice");
  Writer c;
  c.i32(kCancelRequestCode);
  c.i32(1001);
  c.i32(-5);
  auto cancel = parse_startup(c.buffer());
  ASSERT_TRUE(cancel.is_ok());
  EXPECT_EQ(cancel->cancel_pid, 1001);
  EXPECT_EQ(cancel->cancel_secret, -5);
  Writer old;
  old.i32(2 << 16);
  EXPECT_FALSE(parse_startup(old.buffer()).is_ok());
}

TEST(Wire, BindAndParseRejectTruncatedInput) {
  Writer b;
  b.cstr("p");
  b.cstr("s");
  b.i16(1);
  b.i16(1);
  b.i16(1);
  b.i32(4);
  b.i32(42);
  b.i16(0);
  auto ok = parse_bind(b.buffer());
  ASSERT_TRUE(ok.is_ok());
  EXPECT_EQ(ok->params.size(), 1u);
  const std::string& full = b.buffer();
  for (size_t n = 0; n < full.size(); ++n)
    EXPECT_FALSE(parse_bind(full.substr(0, n)).is_ok()) << n;
  Writer bad;
  bad.cstr("");
  bad.cstr("");
  bad.i16(0);
  bad.i16(1);
  bad.i32(1 << 30);  // a length past the end
  EXPECT_FALSE(parse_bind(bad.buffer()).is_ok());
}

// Fuzz-style: random bodies never crash the parsers.
TEST(Wire, RandomInputIsAnErrorNotACrash) {
  std::mt19937 rng(42);
  for (int i = 0; i < 20000; ++i) {
    std::string s(rng() % 48, '\0');
    for (auto& c : s)
      c = static_cast<char>(rng() % 4 == 0 ? 0 : rng());
    (void)parse_bind(s);
    (void)parse_parse(s);
    (void)parse_startup(s);
  }
}

TEST(SqlState, MapsEngineAndLakeErrors) {
  EXPECT_EQ(
      error_fields(invalid_argument("Catalog Error: Table with name x does not exist!")).sqlstate,
      std::string("42P01"));
  EXPECT_EQ(
      error_fields(invalid_argument("Binder Error: Referenced column \"q\" not found")).sqlstate,
      std::string("42703"));
  EXPECT_EQ(
      error_fields(invalid_argument("Conversion Error: Could not convert string 'a'")).sqlstate,
      std::string("22P02"));
  EXPECT_EQ(error_fields(invalid_argument("Constraint Error: NOT NULL constraint failed")).sqlstate,
            std::string("23502"));
  EXPECT_EQ(error_fields(conflict("raw.t changed")).sqlstate, std::string("40001"));
  EXPECT_EQ(error_fields(permission_denied("no")).sqlstate, std::string("42501"));
  EXPECT_EQ(error_fields(not_found("table raw.x does not exist")).sqlstate, std::string("42P01"));
  EXPECT_EQ(error_fields(internal_error("boom")).sqlstate, std::string("XX000"));
  auto e = error_fields(invalid_argument("INTERRUPT Error: Interrupted!"), "",
                        InterruptReason::kTimeout);
  EXPECT_EQ(e.sqlstate, std::string("57014"));
  EXPECT_EQ(e.message, "canceling statement due to statement timeout");
}

TEST(SqlState, PositionComesFromDuckDbContext) {
  std::string q = "SELECT 1;\nSELEC x FROM t";
  auto e =
      error_fields(invalid_argument("Parser Error: syntax error at or near \"SELEC\"\n\nLINE 2: "
                                    "SELEC x FROM t\n        ^"),
                   q);
  EXPECT_EQ(e.sqlstate, std::string("42601"));
  EXPECT_EQ(e.position, 11);
  EXPECT_EQ(e.message, "Parser Error: syntax error at or near \"SELEC\"");
}

TEST(Types, TextFormats) {
  std::string s;
  format_date(0, s);
  EXPECT_EQ(s, "1970-01-01");
  s.clear();
  format_date(-719528, s);  // 0000-01-01 = 1 BC
  EXPECT_EQ(s, "0001-01-01 BC");
  s.clear();
  format_timestamp(1500000, true, s);
  EXPECT_EQ(s, "1970-01-01 00:00:01.5+00");
  s.clear();
  format_timestamp(-1, false, s);
  EXPECT_EQ(s, "1969-12-31 23:59:59.999999");
  EXPECT_EQ(array_oid_of(oid::kInt4), 1007);
  EXPECT_EQ(array_oid_of(oid::kText), 1009);
}

TEST(Types, NumericBinaryRoundTrip) {
  for (std::string v : {"0", "1", "-1.25", "12345.6789", "0.0001", "100000000", "-0.50"}) {
    auto b = numeric_text_to_binary(v);
    ASSERT_TRUE(b.is_ok()) << v;
    auto t = binary_param_to_text(oid::kNumeric, *b);
    ASSERT_TRUE(t.is_ok()) << v;
    EXPECT_EQ(std::stod(*t), std::stod(v)) << v << " -> " << *t;
  }
  EXPECT_EQ(*binary_param_to_text(oid::kInt4, std::string("\0\0\0\x2a", 4)), "42");
  EXPECT_FALSE(binary_param_to_text(oid::kInt4, "ab").is_ok());
}

TEST(Scan, ClassifiesAndFindsLakeTables) {
  using namespace detail;
  EXPECT_EQ(classify(tokenize("  select 1")), StatementKind::kQuery);
  EXPECT_EQ(classify(tokenize("BEGIN")), StatementKind::kBegin);
  EXPECT_EQ(classify(tokenize("COPY (SELECT 1) TO STDOUT")), StatementKind::kCopyToStdout);
  EXPECT_EQ(classify(tokenize("-- nothing")), StatementKind::kEmpty);
  std::set<std::string> nss = {"raw", "curated"};
  auto none = [](const std::string&) { return std::string(); };
  auto refs =
      table_refs(tokenize("INSERT INTO raw.t (id) SELECT x FROM curated.k JOIN main.z"), nss, none);
  ASSERT_EQ(refs.size(), 2u);
  EXPECT_TRUE(refs[0].write);
  EXPECT_EQ(refs[0].name, "t");
  EXPECT_FALSE(refs[1].write);
  auto in_path = [](const std::string& n) { return n == "orders" ? std::string("curated") : ""; };
  refs = table_refs(tokenize("WITH orders AS (SELECT 1) SELECT * FROM orders"), nss, in_path);
  EXPECT_TRUE(refs.empty());
  refs = table_refs(tokenize("SELECT * FROM orders"), nss, in_path);
  ASSERT_EQ(refs.size(), 1u);
  EXPECT_EQ(refs[0].ns, "curated");
  EXPECT_FALSE(forbidden_feature(tokenize("SELECT * FROM read_csv('/etc/passwd')")).empty());
  EXPECT_FALSE(forbidden_feature(tokenize("ATTACH 'x.db'")).empty());
  EXPECT_TRUE(forbidden_feature(tokenize("SELECT * FROM raw.t")).empty());
}

TEST(Scan, RewritesPostgresCatalogSyntax) {
  using namespace detail;
  EXPECT_EQ(rewrite_pg_syntax("SELECT c.relname FROM pg_catalog.pg_class c WHERE c.relname "
                              "OPERATOR(pg_catalog.~) '^(t)$' COLLATE pg_catalog.default"),
            "SELECT c.relname FROM sluice_pg.pg_class c WHERE c.relname  ~ '^(t)$' ");
  EXPECT_EQ(
      rewrite_pg_syntax("SELECT 'raw.t'::regclass, c.oid::pg_catalog.regclass::pg_catalog.text"),
      "SELECT sluice_pg.regclass_oid('raw.t'), sluice_pg.regclass_name(c.oid)::VARCHAR");
  EXPECT_EQ(rewrite_pg_syntax("SELECT n.nspname !~ '^pg_'"), "SELECT n.nspname !~ '^pg_.*'");
  EXPECT_EQ(rewrite_pg_syntax("SELECT current_schema(), version()"),
            "SELECT sluice_pg.cur_schema(), sluice_pg.version()");
}

// psycopg2 sends bytes as '\x0102'::bytea: PostgreSQL's hex form, not DuckDB's per-byte escapes.
TEST(Scan, RewritesHexByteaLiterals) {
  using namespace detail;
  EXPECT_EQ(rewrite_pg_syntax("SELECT '\\x00ff41'::bytea, '\\x0A0b'::pg_catalog.bytea"),
            "SELECT from_hex('00ff41')::bytea, from_hex('0A0b')::bytea");
  // Not the hex form, or not a bytea cast: left alone.
  EXPECT_EQ(rewrite_pg_syntax("SELECT 'abc'::bytea, '\\x0'::bytea, '\\x01'::text"),
            "SELECT 'abc'::bytea, '\\x0'::bytea, '\\x01'::VARCHAR");
  EXPECT_EQ(pg_bytea_hex("\\x01 02"), "0102");
  EXPECT_FALSE(pg_bytea_hex("\\xzz").has_value());
}

// Grafana's search_path constraint: scalar functions as FROM items and the USER keyword.
TEST(Scan, RewritesFunctionsInFromAndUser) {
  using namespace detail;
  EXPECT_EQ(rewrite_pg_syntax("SELECT CASE WHEN s[i] = 'x' THEN user ELSE s[i] END FROM "
                              "generate_series(1, array_upper(s0, 1)) as i, "
                              "string_to_array(current_setting('search_path'),',') s"),
            "SELECT CASE WHEN s[i] = 'x' THEN sluice_pg.login_user() ELSE s[i] END FROM "
            "(SELECT unnest(generate_series(1, sluice_pg.array_upper(s0, 1))) AS i) AS i, "
            "(SELECT string_to_array(sluice_pg.current_setting('search_path'),',') AS s) AS s");
  // Not rewritten: no alias, a column list, a table function outside FROM, a user column.
  for (const char* same :
       {"SELECT * FROM generate_series(1, 3)", "SELECT * FROM generate_series(1, 3) AS g(i)",
        "SELECT generate_series(1, 3) AS i FROM t", "SELECT a IS DISTINCT FROM b, x FROM t",
        "SELECT t.user FROM t", "SELECT extract(epoch from ts) AS e FROM t WHERE x > 1"}) {
    EXPECT_EQ(rewrite_pg_syntax(same), same);
  }
  EXPECT_EQ(rewrite_pg_syntax("SELECT quote_literal(x), (parse_ident('a.b'))[1]"),
            "SELECT sluice_pg.quote_literal(x), (sluice_pg.parse_ident('a.b'))[1]");
}

TEST(Scan, ParsesSetFetchCopy) {
  using namespace detail;
  auto t = tokenize("SET search_path TO curated, \"raw\"");
  auto s = parse_set("SET search_path TO curated, \"raw\"", t);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->name, "search_path");
  EXPECT_EQ(s->value, "curated, raw");
  auto f = parse_fetch(tokenize("FETCH FORWARD 2000 FROM \"c_1\""));
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->count, 2000);
  EXPECT_EQ(f->name, "c_1");
  std::string copy = "COPY (SELECT 1) TO STDOUT WITH (FORMAT csv, HEADER true)";
  auto c = parse_copy(copy, tokenize(copy));
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->csv);
  EXPECT_TRUE(c->header);
  EXPECT_EQ(c->delimiter, ',');
  EXPECT_EQ(c->query, "SELECT 1");
}

}  // namespace
}  // namespace sluice::gateway
