// `cdc.format = "avro"` end to end: a real PostgreSQL (scripts/pg.sh), `sluice broker`,
// `sluice registry` and `sluice cdc start` as child processes, and an independent consumer:
// /usr/bin/python3 with kafka-python and the Apache `avro` library, which strips the Confluent
// header, fetches the writer schema by id from the registry and decodes the datum.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bus/bus_test_util.h"
#include "cdc/cdc_test_support.h"
#include "sources/db_client.h"
#include "support/sluice_process.h"
#include "support/source_servers.h"

namespace fs = std::filesystem;
using sluice::sources::Endpoint;
using sluice::sources::detail::PgConn;
using sluice::testing::SluiceProcess;

namespace {

sluice::testing::SourceServers* g_env = nullptr;

// Decodes every message of a topic; one line per message:
//   <op> key=<json> before=<json> after=<json> source=<json>   or   tombstone key=<json>
// values in JSON with Decimal/date/datetime as str() and bytes as hex.
constexpr const char* kConsumer = R"(
import datetime, decimal, io, json, struct, sys, urllib.request
import avro.io, avro.schema
from kafka import KafkaConsumer
boot, registry, topic = sys.argv[1:4]
schemas = {}
def decode(b):
    assert b[0] == 0, 'magic byte %d' % b[0]
    sid = struct.unpack('>i', b[1:5])[0]
    if sid not in schemas:
        body = json.load(urllib.request.urlopen('%s/schemas/ids/%d' % (registry, sid)))
        schemas[sid] = avro.schema.parse(body['schema'])
    s = schemas[sid]
    return avro.io.DatumReader(s).read(avro.io.BinaryDecoder(io.BytesIO(b[5:])))
def norm(x):
    if isinstance(x, dict): return {k: norm(v) for k, v in x.items()}
    if isinstance(x, bytes): return x.hex()
    if isinstance(x, (decimal.Decimal, datetime.date, datetime.time)): return str(x)
    return x
def dump(x): return json.dumps(norm(x), sort_keys=True, separators=(',', ':'))
c = KafkaConsumer(topic, bootstrap_servers=boot, auto_offset_reset='earliest',
                  consumer_timeout_ms=5000, enable_auto_commit=False)
for m in c:
    key = decode(m.key)
    if m.value is None:
        print('tombstone key=' + dump(key))
        continue
    v = decode(m.value)
    src = v['source']
    assert src['connector'] == 'postgresql' and src['name'] == 'shop' and src['version'] == 'sluice'
    assert src['ts_ms'] > 0 and src['lsn'] > 0 and src['position'], src
    assert (src['txId'] is None) == (v['op'] == 'r'), src
    assert v['ts_ms'] > 0
    print('%s key=%s before=%s after=%s source=%s' % (v['op'], dump(key), dump(v['before']),
          dump(v['after']), dump({k: src[k] for k in ('db', 'schema', 'table', 'snapshot')})))
)";

class CdcAvroIT : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto started = sluice::testing::SourceServers::start({.name = "cdcavro", .mariadb = false});
    ASSERT_TRUE(started.ok) << started.error;
    g_env = started.servers;
    fs::create_directories(g_env->dir / "sources");
    std::ofstream(g_env->dir / "avro_consumer.py") << kConsumer;
  }
  static void TearDownTestSuite() {
    sluice::testing::SourceServers::stop_instance();
    g_env = nullptr;
  }
  void SetUp() override {
    if (g_env == nullptr) GTEST_SKIP() << "PostgreSQL did not start";
    name_ = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    dir_ = g_env->dir / name_;
    fs::create_directories(dir_ / "sources");
  }

  static void pg_exec(const std::string& sql) {
    auto c = PgConn::connect(Endpoint{"127.0.0.1", g_env->pg_port, "shop_owner",
                                      sluice::testing::kOwnerPassword, "shop"},
                             "test");
    ASSERT_TRUE(c.is_ok()) << c.status().message();
    auto st = c->exec(sql);
    ASSERT_TRUE(st.is_ok()) << sql << ": " << st.message();
  }
  // The test's folder: sources/<source>.toml and sluice.toml (avro to `broker`, `registry_url`).
  void write_config(const std::string& source, const std::string& table,
                    const std::string& bootstrap, const std::string& registry_url) {
    std::ofstream f(dir_ / "sources" / (source + ".toml"));
    f << "type = \"postgres\"\nport = " << g_env->pg_port << "\ndatabase = \"shop\"\n[tables."
      << table << "]\n[cdc]\nenabled = true\npublication = \"sluice_shop\"\nheartbeat_ms = 500\n";
    std::ofstream(dir_ / "sluice.toml")
        << "[log]\nlevel = \"info\"\n[cdc]\ncommit_interval_ms = 200\ntopic_prefix = \"shop\"\n"
        << "format = \"avro\"\nregistry_url = \"" << registry_url << "\"\n[bus]\nbootstrap = \""
        << bootstrap << "\"\n";
  }
  SluiceProcess::Options cdc_options(const std::string& source) {
    SluiceProcess::Options o;
    o.args = {"cdc", "start", source, "--config", "sluice.toml", "--data-dir", "data"};
    o.ready = "";
    o.in_dir = true;
    return o;
  }
  sluice::testing::CommandResult run(const std::string& cmd, int timeout_s = 60) {
    return sluice::testing::run_command("cd '" + dir_.string() + "' && " + cmd, dir_, timeout_s);
  }
  std::string lake_value(const std::string& sql) { return lake().value(sql); }
  std::string wait_lake(const std::string& sql, const std::string& want, SluiceProcess* s) {
    return lake().wait_value(sql, want, s);
  }
  sluice::testing::CdcLake lake() const { return {dir_, "data"}; }
  // Waits until the process's stderr holds `text`.
  static bool wait_log(SluiceProcess& p, const std::string& text, int seconds = 60) {
    for (int i = 0; i < seconds * 4; ++i) {
      if (p.log().find(text) != std::string::npos) return true;
      if (!p.running()) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    return false;
  }
  std::vector<std::string> consume(const std::string& bootstrap, const std::string& registry,
                                   const std::string& topic) {
    auto r = run("/usr/bin/python3 '" + (g_env->dir / "avro_consumer.py").string() + "' " +
                 bootstrap + " " + registry + " " + topic);
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    std::vector<std::string> lines;
    std::istringstream in(r.out);
    for (std::string l; std::getline(in, l);)
      lines.push_back(l);
    return lines;
  }

  std::string name_;
  fs::path dir_;
};

TEST_F(CdcAvroIT, IndependentAvroConsumerDecodesEveryOpWithRegisteredSchemas) {
  sluice::bus::testing::BrokerProcess broker(dir_ / "broker");
  ASSERT_TRUE(broker.start()) << broker.log();
  SluiceProcess registry(dir_ / "registry", "registry",
                         sluice::testing::server_options(dir_ / "registry", "registry"));
  ASSERT_TRUE(registry.start()) << registry.log();
  const std::string reg = "http://127.0.0.1:" + std::to_string(registry.port());
  pg_exec(
      "DROP TABLE IF EXISTS av; CREATE TABLE av (id int PRIMARY KEY, name text, "
      "price numeric(10,2), d date, ts timestamp, tz timestamptz, ok boolean, big bigint, "
      "f double precision, b bytea, u uuid, qty int NOT NULL);"
      "INSERT INTO av VALUES (1, 'one', 12.5, '2024-02-29', '2024-01-02 03:04:05.123456', "
      "'2024-01-02 03:04:05+02', true, 9000000000, 1.25, '\\x0102', "
      "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 5)");
  write_config("av", "av", broker.bootstrap(), reg);
  SluiceProcess s(dir_, "cdc", cdc_options("av"));
  ASSERT_TRUE(s.start());
  ASSERT_EQ(wait_lake("SELECT count(*) FROM refined.av_av", "1", &s), "1") << s.log();
  pg_exec(
      "INSERT INTO av (id, price, qty) VALUES (2, -0.01, 7);"
      "UPDATE av SET price = 99999999.99, name = 'uno' WHERE id = 1;"
      "DELETE FROM av WHERE id = 2");
  // A schema change registers a second value schema version.
  pg_exec("ALTER TABLE av ADD COLUMN note text; INSERT INTO av (id, qty, note) VALUES (3, 1, 'n')");
  ASSERT_EQ(wait_lake("SELECT count(*) FROM raw.av_av_changes", "5", &s), "5") << s.log();

  auto lines = consume(broker.bootstrap(), reg, "shop.public.av");
  const std::string src_r =
      R"(source={"db":"shop","schema":"public","snapshot":"true","table":"av"})";
  const std::string src =
      R"(source={"db":"shop","schema":"public","snapshot":"false","table":"av"})";
  // Keys sorted: name and price sit between id and ok.
  auto row1 = [](const std::string& name, const std::string& price) {
    return R"("b":"0102","big":9000000000,"d":"2024-02-29","f":1.25,"id":1,"name":")" + name +
           R"(","ok":true,"price":")" + price +
           R"(","qty":5,"ts":"2024-01-02 03:04:05.123456+00:00",)"
           R"("tz":"2024-01-02 01:04:05+00:00","u":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")";
  };
  const std::vector<std::string> want = {
      R"(r key={"id":1} before=null after={)" + row1("one", "12.50") + "} " + src_r,
      R"(c key={"id":2} before=null after={"b":null,"big":null,"d":null,"f":null,"id":2,)"
      R"("name":null,"ok":null,"price":"-0.01","qty":7,"ts":null,"tz":null,"u":null} )" +
          src,
      R"(u key={"id":1} before=null after={)" + row1("uno", "99999999.99") + "} " + src,
      // REPLICA IDENTITY DEFAULT: the old row carries the key; NOT NULL qty holds its zero.
      R"(d key={"id":2} before={"b":null,"big":null,"d":null,"f":null,"id":2,)"
      R"("name":null,"ok":null,"price":null,"qty":0,"ts":null,"tz":null,"u":null} after=null )" +
          src,
      R"(tombstone key={"id":2})",
      R"(c key={"id":3} before=null after={"b":null,"big":null,"d":null,"f":null,"id":3,)"
      R"("name":null,"note":"n","ok":null,"price":null,"qty":1,"ts":null,"tz":null,"u":null} )" +
          src,
  };
  EXPECT_EQ(lines, want) << s.log();

  // TopicNameStrategy subjects; the added column made a second value version, not a second key.
  auto versions = [&](const std::string& subject) {
    return run("curl -sS " + reg + "/subjects/" + subject + "/versions").out;
  };
  EXPECT_EQ(versions("shop.public.av-key"), "[1]");
  EXPECT_EQ(versions("shop.public.av-value"), "[1,2]");
  EXPECT_EQ(s.kill(SIGTERM), 0) << s.log();
}

TEST_F(CdcAvroIT, RegistryDownStopsPublishingUntilItIsBackWithNothingLost) {
  sluice::bus::testing::BrokerProcess broker(dir_ / "broker");
  ASSERT_TRUE(broker.start()) << broker.log();
  SluiceProcess registry(dir_ / "registry", "registry",
                         sluice::testing::server_options(dir_ / "registry", "registry"));
  ASSERT_TRUE(registry.start()) << registry.log();
  const int port = registry.port();
  const std::string reg = "http://127.0.0.1:" + std::to_string(port);
  pg_exec(
      "DROP TABLE IF EXISTS down; CREATE TABLE down (id int PRIMARY KEY, v text);"
      "INSERT INTO down VALUES (1, 'a')");
  write_config("down", "down", broker.bootstrap(), reg);
  SluiceProcess s(dir_, "cdc", cdc_options("down"));
  ASSERT_TRUE(s.start());
  ASSERT_EQ(wait_lake("SELECT count(*) FROM refined.down_down", "1", &s), "1") << s.log();
  pg_exec("INSERT INTO down VALUES (2, 'b')");
  ASSERT_EQ(wait_lake("SELECT count(*) FROM raw.down_down_changes", "2", &s), "2") << s.log();

  // The registry goes away; a schema change needs a new value schema.
  registry.stop();
  const fs::path checkpoint = dir_ / "data" / "cdc" / "down" / "checkpoint.json";
  const std::string before = sluice::testing::slurp(checkpoint);
  pg_exec("ALTER TABLE down ADD COLUMN w int; INSERT INTO down VALUES (3, 'c', 30)");
  ASSERT_TRUE(wait_log(
      s, "schema registry " + reg + ": subject shop.public.down-value: cannot register the schema"))
      << s.log();
  EXPECT_TRUE(s.running()) << s.log();  // unavailable: the stream retries with backoff
  // Nothing moved past the unpublished event: no lake commit, the same checkpoint.
  EXPECT_EQ(lake_value("SELECT count(*) FROM raw.down_down_changes"), "2");
  EXPECT_EQ(sluice::testing::slurp(checkpoint), before);

  // The registry comes back on the same address: the change arrives, once.
  auto o = sluice::testing::server_options(dir_ / "registry", "registry");
  o.args.back() = "127.0.0.1:" + std::to_string(port);
  SluiceProcess back(dir_ / "registry", "registry-back", o);
  ASSERT_TRUE(back.start()) << back.log();
  ASSERT_EQ(wait_lake("SELECT count(*) FROM raw.down_down_changes", "3", &s), "3") << s.log();
  auto lines = consume(broker.bootstrap(), reg, "shop.public.down");
  const std::string src =
      R"( source={"db":"shop","schema":"public","snapshot":"false","table":"down"})";
  const std::vector<std::string> want = {
      R"(r key={"id":1} before=null after={"id":1,"v":"a"} source={"db":"shop","schema":"public","snapshot":"true","table":"down"})",
      R"(c key={"id":2} before=null after={"id":2,"v":"b"})" + src,
      R"(c key={"id":3} before=null after={"id":3,"v":"c","w":30})" + src};
  EXPECT_EQ(lines, want) << s.log();
  EXPECT_EQ(s.kill(SIGTERM), 0) << s.log();
}

TEST_F(CdcAvroIT, IncompatibleSchemaIsAClearErrorAndTheStreamStops) {
  sluice::bus::testing::BrokerProcess broker(dir_ / "broker");
  ASSERT_TRUE(broker.start()) << broker.log();
  SluiceProcess registry(dir_ / "registry", "registry",
                         sluice::testing::server_options(dir_ / "registry", "registry"));
  ASSERT_TRUE(registry.start()) << registry.log();
  const std::string reg = "http://127.0.0.1:" + std::to_string(registry.port());
  // Someone else's schema under the topic's value subject: a different record.
  auto pre =
      run("curl -sS -X POST -H 'Content-Type: application/vnd.schemaregistry.v1+json' " + reg +
          "/subjects/shop.public.clash-value/versions -d "
          "'{\"schema\": \"{\\\"type\\\":\\\"record\\\",\\\"name\\\":\\\"Other\\\","
          "\\\"fields\\\":[{\\\"name\\\":\\\"x\\\",\\\"type\\\":\\\"string\\\"}]}\"}'");
  ASSERT_EQ(pre.out, "{\"id\":1}") << pre.err;
  pg_exec(
      "DROP TABLE IF EXISTS clash; CREATE TABLE clash (id int PRIMARY KEY);"
      "INSERT INTO clash VALUES (1)");
  write_config("clash", "clash", broker.bootstrap(), reg);
  SluiceProcess s(dir_, "cdc", cdc_options("clash"));
  ASSERT_TRUE(s.start());
  for (int i = 0; i < 240 && s.running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  ASSERT_FALSE(s.running()) << s.log();
  EXPECT_NE(s.log().find("schema registry " + reg +
                         ": subject shop.public.clash-value: the registry refused the schema "
                         "(HTTP 409)"),
            std::string::npos)
      << s.log();
  EXPECT_EQ(lake_value("SELECT count(*) FROM raw.clash_clash_changes"), "");
  EXPECT_FALSE(fs::exists(dir_ / "data" / "cdc" / "clash" / "checkpoint.json"));
}

}  // namespace
