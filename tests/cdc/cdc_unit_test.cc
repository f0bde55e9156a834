// Unit tests of the CDC core: LSNs, the [cdc] table of source files, Debezium's envelope.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cdc/backfill.h"
#include "cdc/pg_reader.h"
#include "cdc/pipeline.h"
#include "sources/sources.h"

namespace sluice::cdc {
namespace {

TEST(CdcUnit, LsnRoundTrips) {
  auto v = parse_lsn("16/B374D848");
  ASSERT_TRUE(v.is_ok());
  EXPECT_EQ(*v, 0x16B374D848ULL);
  EXPECT_EQ(format_lsn(*v), "16/B374D848");
  EXPECT_EQ(format_lsn(0), "0/0");
  EXPECT_FALSE(parse_lsn("16B374D848").is_ok());
  EXPECT_FALSE(parse_lsn("1/G").is_ok());
}

TEST(CdcUnit, SourceFileCdcTable) {
  auto c = sources::parse_source_config(
      "type = \"postgres\"\ndatabase = \"shop\"\n[tables.users]\n[cdc]\nenabled = true\n"
      "slot = \"s1\"\nserver_id = 42\nheartbeat_ms = 500\nstart = \"mariadb-bin.000001:4\"\n",
      "shop.toml", "shop");
  ASSERT_TRUE(c.is_ok()) << c.status().message();
  EXPECT_TRUE(c->cdc.enabled);
  EXPECT_EQ(c->cdc.slot, "s1");
  EXPECT_EQ(c->cdc.server_id, 42);
  EXPECT_EQ(c->cdc.heartbeat_ms, 500);
  EXPECT_EQ(c->cdc.options.at("start"), "mariadb-bin.000001:4");
  EXPECT_EQ(c->cdc.options.at("server_id"), "42");
  EXPECT_EQ(slot_name(*c), "s1");
  EXPECT_EQ(publication_name(*c), "sluice_shop");

  auto bad = sources::parse_source_config(
      "type = \"postgres\"\ndatabase = \"shop\"\n[tables.users]\n[cdc]\nslot = \"Bad-Name\"\n",
      "shop.toml", "shop");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().message(),
            "shop.toml:5:8: key 'slot' in [cdc] must be 1 to 63 characters of a-z, 0-9 and _, got "
            "'Bad-Name'");
  auto bad2 = sources::parse_source_config(
      "type = \"postgres\"\ndatabase = \"shop\"\n[tables.users]\n[cdc]\nenabled = 1\n", "shop.toml",
      "shop");
  ASSERT_FALSE(bad2.is_ok());
  EXPECT_EQ(bad2.status().message(),
            "shop.toml:5:11: key 'enabled' in [cdc] expects true or false");
}

TEST(CdcUnit, DebeziumEnvelope) {
  auto schema = std::make_shared<TableSchema>();
  schema->database = "shop";
  schema->schema = "public";
  schema->table = "users";
  schema->columns = {Column{"id", "int8", ValueKind::kInt64, 0, 0, true, false},
                     Column{"name", "text", ValueKind::kString},
                     Column{"ok", "bool", ValueKind::kBool},
                     Column{"raw", "bytea", ValueKind::kBytes}};
  ChangeEvent e;
  e.op = Op::kUpdate;
  e.schema = schema;
  e.before = Row{{std::string("7"), std::nullopt, std::nullopt, std::nullopt}};
  e.after =
      Row{{std::string("7"), std::string("Ann"), std::string("true"), std::string("\x01\x02")}};
  e.position = Position{100, 1, "0/64"};
  Transaction t;
  t.txid = "999";
  t.commit_ts_ms = 1700000000000;
  sources::SourceConfig src;
  src.name = "shop";
  auto v = nlohmann::json::parse(debezium_value(e, t, src, "pfx"));
  const auto& p = v.at("payload");
  EXPECT_EQ(p.at("op"), "u");
  EXPECT_EQ(p.at("after").at("id"), 7);
  EXPECT_EQ(p.at("after").at("name"), "Ann");
  EXPECT_EQ(p.at("after").at("ok"), true);
  EXPECT_EQ(p.at("after").at("raw"), "AQI=");
  EXPECT_TRUE(p.at("before").at("name").is_null());
  EXPECT_EQ(p.at("source").at("connector"), "postgresql");
  EXPECT_EQ(p.at("source").at("table"), "users");
  EXPECT_EQ(p.at("source").at("ts_ms"), 1700000000000);
  EXPECT_EQ(p.at("source").at("lsn"), 100);
  EXPECT_EQ(p.at("source").at("snapshot"), "false");
  EXPECT_EQ(v.at("schema").at("name"), "pfx.public.users.Envelope");
  auto k = nlohmann::json::parse(debezium_key(e, "pfx"));
  EXPECT_EQ(k.at("payload"), nlohmann::json::parse("{\"id\": 7}"));
}

}  // namespace
}  // namespace sluice::cdc

namespace {

sluice::cdc::TableSchema two_key_schema() {
  sluice::cdc::TableSchema s;
  s.table = "t";
  s.columns = {{"a", "int4", sluice::cdc::ValueKind::kInt32, 0, 0, true, false},
               {"v", "text", sluice::cdc::ValueKind::kString, 0, 0, false, true},
               {"b", "text", sluice::cdc::ValueKind::kString, 0, 0, true, false}};
  return s;
}

}  // namespace

TEST(CdcUnit, BackfillKeyRangesAreLexicographic) {
  using namespace sluice::cdc;
  auto s = two_key_schema();
  auto ident = [](const Column& c) { return c.name; };
  auto lit = [](const Column&, const std::string& v) { return "'" + v + "'"; };
  auto gt = key_compare(s, {"1", "x"}, ">", ident, lit);
  ASSERT_TRUE(gt.is_ok()) << gt.status().to_string();
  EXPECT_EQ(*gt, "((a > '1' OR (a = '1' AND b > 'x')))");
  auto le = key_compare(s, {"1", "x"}, "<=", ident, lit);
  ASSERT_TRUE(le.is_ok());
  EXPECT_EQ(*le, "((a < '1' OR (a = '1' AND b <= 'x')))");
  EXPECT_EQ(key_order(s, ident), "a, b");
  ChunkRequest req;
  req.table = "t";
  EXPECT_EQ(*chunk_condition(s, req, ident, lit), "TRUE");
  req.where = "a < 10";
  req.after_key = {"1", "x"};
  EXPECT_EQ(*chunk_condition(s, req, ident, lit),
            "(a < 10) AND ((a > '1' OR (a = '1' AND b > 'x')))");
  // Wrong arity, a NULL key and a table without a key are clear errors.
  EXPECT_FALSE(key_compare(s, {"1"}, ">", ident, lit).is_ok());
  auto null_key = key_compare(s, {"1", std::nullopt}, ">", ident, lit);
  ASSERT_FALSE(null_key.is_ok());
  EXPECT_NE(null_key.status().message().find("key column b is NULL"), std::string::npos);
  TableSchema nokey = s;
  for (auto& c : nokey.columns)
    c.key = false;
  auto none = chunk_condition(nokey, ChunkRequest{}, ident, lit);
  ASSERT_FALSE(none.is_ok());
  EXPECT_NE(none.status().message().find("no primary key"), std::string::npos);
}

TEST(CdcUnit, BackfillRequestsRoundTripThroughTheirFiles) {
  using namespace sluice::cdc;
  auto dir = std::filesystem::temp_directory_path() / ("sluice-bf-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto a = queue_backfill(dir, "orders", "id < 10", 500);
  ASSERT_TRUE(a.is_ok()) << a.status().to_string();
  EXPECT_FALSE(queue_backfill(dir, "orders", "", 0).is_ok());
  auto r = *a;
  r.state = "running";
  r.after_key = std::vector<Value>{"9", std::nullopt};
  r.rows = 9;
  ASSERT_TRUE(save_backfill(dir, r).is_ok());
  auto all = list_backfills(dir);
  ASSERT_TRUE(all.is_ok());
  ASSERT_EQ(all->size(), 1u);
  const auto& b = all->front();
  EXPECT_EQ(b.id, a->id);
  EXPECT_EQ(b.table, "orders");
  EXPECT_EQ(b.where, "id < 10");
  EXPECT_EQ(b.chunk_rows, 500);
  EXPECT_EQ(b.state, "running");
  EXPECT_EQ(b.rows, 9);
  ASSERT_TRUE(b.after_key.has_value());
  EXPECT_EQ(b.after_key->at(0), "9");
  EXPECT_FALSE(b.after_key->at(1).has_value());
  EXPECT_FALSE(backfill_from_json("{\"id\": \"\"}").is_ok());
  std::filesystem::remove_all(dir);
}

namespace sluice::cdc {
namespace {

std::string hex_of(const std::string& s) {
  std::string out;
  for (unsigned char c : s)
    out += fmt::format("{:02x}", c);
  return out;
}

// Avro binary of one-column rows, checked against encodings worked out by hand from the Avro
// spec (zigzag varints, two's-complement big-endian decimals, days/micros since the epoch).
TEST(CdcUnit, AvroKeyEncodesEachKindAsTheSpecSays) {
  auto one = [](Column c, std::string text) -> std::string {
    c.key = true;
    c.nullable = false;
    auto s = std::make_shared<TableSchema>();
    s->schema = "public";
    s->table = "t";
    s->columns = {c};
    ChangeEvent e;
    e.schema = s;
    e.after = Row{{std::move(text)}};
    auto r = avro_key(e);
    return r.is_ok() ? hex_of(*r) : "error: " + r.status().message();
  };
  EXPECT_EQ(one({"k", "int8", ValueKind::kInt64}, "7"), "0e");
  EXPECT_EQ(one({"k", "int8", ValueKind::kInt64}, "-1"), "01");
  EXPECT_EQ(one({"k", "int4", ValueKind::kInt32}, "64"), "8001");
  EXPECT_EQ(one({"k", "bool", ValueKind::kBool}, "true"), "01");
  EXPECT_EQ(one({"k", "text", ValueKind::kString}, "ab"), "046162");
  EXPECT_EQ(one({"k", "float8", ValueKind::kFloat64}, "1.5"), "000000000000f83f");
  EXPECT_EQ(one({"k", "float4", ValueKind::kFloat32}, "-2"), "000000c0");
  // decimal(10,2): 123.45 -> unscaled 12345 = 0x3039; -1 -> -100 = 0xff9c; 1.5 -> 150 = 0x0096
  EXPECT_EQ(one({"k", "numeric", ValueKind::kDecimal, 10, 2}, "123.45"), "043039");
  EXPECT_EQ(one({"k", "numeric", ValueKind::kDecimal, 10, 2}, "-1"), "029c");
  EXPECT_EQ(one({"k", "numeric", ValueKind::kDecimal, 10, 2}, "1.5"), "040096");
  EXPECT_EQ(one({"k", "numeric", ValueKind::kDecimal, 10, 2}, "0"), "0200");
  EXPECT_EQ(one({"k", "numeric", ValueKind::kDecimal, 10, 2}, "-1.28"), "0280");
  // 38 digits: beyond 64 bits.
  EXPECT_EQ(one({"k", "numeric", ValueKind::kDecimal, 38, 0}, "18446744073709551616"),
            "12010000000000000000");
  EXPECT_EQ(one({"k", "date", ValueKind::kDate}, "1970-01-02"), "02");
  EXPECT_EQ(one({"k", "date", ValueKind::kDate}, "1969-12-31"), "01");
  EXPECT_EQ(one({"k", "date", ValueKind::kDate}, "2000-03-01"), "92ac01");    // 11017 days
  EXPECT_EQ(one({"k", "time", ValueKind::kTime}, "00:00:01.5"), "c08db701");  // 1500000 us
  EXPECT_EQ(one({"k", "timestamp", ValueKind::kTimestamp}, "1970-01-01 00:00:01.5"), "c08db701");
  EXPECT_EQ(one({"k", "timestamptz", ValueKind::kTimestampTz}, "1970-01-01 01:00:01.5+01"),
            "c08db701");
  EXPECT_EQ(one({"k", "int4", ValueKind::kInt32}, "x1"),
            "error: table public.t column k: value 'x1' is not an integer (Avro \"int\")");
  EXPECT_EQ(one({"k", "date", ValueKind::kDate}, "infinity"),
            "error: table public.t column k: value 'infinity' is not a date (Avro "
            "{\"type\":\"int\",\"logicalType\":\"date\"})");
}

TEST(CdcUnit, AvroSchemasAndRegistryAddress) {
  TableSchema s;
  s.schema = "public";
  s.table = "order-items";
  s.columns = {Column{"id", "int8", ValueKind::kInt64, 0, 0, true, false},
               Column{"price", "numeric(8,2)", ValueKind::kDecimal, 8, 2, false, true},
               Column{"name", "text", ValueKind::kString, 0, 0, false, false}};
  auto k = avro_key_schema(s, "shop");
  EXPECT_EQ(
      k.dump(),
      R"({"type":"record","name":"shop.public.order_items.Key","fields":[{"name":"id","type":"long"}]})");
  auto v = avro_value_schema(s, sources::SourceKind::kPostgres, "shop");
  EXPECT_EQ(v.at("name"), "shop.public.order_items.Envelope");
  EXPECT_EQ(
      v.at("fields").at(0).at("type").at(1).at("fields").at(1).dump(),
      R"({"name":"price","type":["null",{"type":"bytes","logicalType":"decimal","precision":8,"scale":2}],"default":null})");
  EXPECT_EQ(v.at("fields").at(1).at("type").dump(), R"(["null","shop.public.order_items.Value"])");
  EXPECT_EQ(v.at("fields").at(2).at("type").at("name"), "io.debezium.connector.postgresql.Source");

  EXPECT_EQ(*registry_url_from("", "0.0.0.0:8081"), "http://127.0.0.1:8081");
  EXPECT_EQ(*registry_url_from("http://reg:9000", "0.0.0.0:8081"), "http://reg:9000");
  EXPECT_FALSE(registry_url_from("", "127.0.0.1:0").is_ok());
  EXPECT_FALSE(parse_event_format("protobuf").is_ok());
  EventEncoder::Options o;
  o.format = EventFormat::kAvro;
  o.registry_url = "reg:9000";
  auto bad = EventEncoder::open(o, sources::SourceConfig{});
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().message(),
            "cdc.registry_url 'reg:9000' is not an http://HOST:PORT address");
}

}  // namespace
}  // namespace sluice::cdc
