// `sluice registry` through real HTTP: curl, Sluice's http::Client and confluent-kafka's
// SchemaRegistryClient (python3-confluent-kafka, when installed).
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "bus/serde.h"
#include "http/client.h"
#include "support/sluice_process.h"

namespace sluice::registry {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using sluice::testing::run_command;
using sluice::testing::SluiceProcess;

struct Reply {
  int status = 0;
  std::string body;
  json doc() const { return json::parse(body, nullptr, false); }
};

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sluice_registry_it_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    registry_ = std::make_unique<SluiceProcess>(dir_, "registry",
                                                sluice::testing::server_options(dir_, "registry"));
    ASSERT_TRUE(registry_->start()) << registry_->log();
  }
  void TearDown() override {
    registry_.reset();
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // curl with the registry's content type; the body goes through a file (no shell quoting).
  Reply curl(const std::string& method, const std::string& path, const json& body = nullptr) {
    static int n = 0;
    std::string cmd = "curl -sS -X " + method + " -w '\\n%{http_code}'";
    if (!body.is_null()) {
      auto file = dir_ / ("body" + std::to_string(++n) + ".json");
      std::ofstream(file) << body.dump();
      cmd += " -H 'Content-Type: application/vnd.schemaregistry.v1+json' --data-binary @" +
             file.string();
    }
    cmd += " '" + url() + path + "'";
    auto r = run_command(cmd, dir_, 20);
    Reply out;
    auto nl = r.out.rfind('\n');
    if (r.code != 0 || nl == std::string::npos) {
      ADD_FAILURE() << "curl failed (" << r.code << "): " << r.out << r.err;
      return out;
    }
    out.body = r.out.substr(0, nl);
    out.status = std::atoi(r.out.c_str() + nl + 1);
    return out;
  }
  static json avro(const std::string& fields) {
    return {{"schema",
             R"({"type":"record","name":"orders","namespace":"shop","fields":[)" + fields + "]}"}};
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(registry_->port()); }

  fs::path dir_;
  std::unique_ptr<SluiceProcess> registry_;
};

TEST_F(RegistryTest, RegisterFetchAndIdempotentReRegister) {
  auto v1 = avro(R"({"name":"id","type":"long"},{"name":"amount","type":"double"})");
  auto r = curl("POST", "/subjects/orders-value/versions", v1);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"id":1})");
  // The same schema with other whitespace: the same id, no new version.
  auto again = avro(R"({ "name" : "id", "type" : "long" }, {"type":"double","name":"amount"})");
  EXPECT_EQ(curl("POST", "/subjects/orders-value/versions", again).body, R"({"id":1})");
  EXPECT_EQ(curl("GET", "/subjects/orders-value/versions").body, "[1]");
  EXPECT_EQ(curl("GET", "/subjects").body, R"(["orders-value"])");
  std::string canonical =
      R"({"type":"record","name":"shop.orders","fields":[{"name":"id","type":"long"},)"
      R"({"name":"amount","type":"double"}]})";
  auto by_id = curl("GET", "/schemas/ids/1");
  EXPECT_EQ(by_id.status, 200);
  EXPECT_EQ(by_id.doc()["schema"], canonical);
  EXPECT_EQ(curl("GET", "/schemas/ids/1/schema").body, canonical);
  EXPECT_EQ(curl("GET", "/schemas/ids/1/versions").body,
            R"([{"subject":"orders-value","version":1}])");
  auto latest = curl("GET", "/subjects/orders-value/versions/latest");
  EXPECT_EQ(latest.doc(),
            json({{"subject", "orders-value"}, {"version", 1}, {"id", 1}, {"schema", canonical}}));
  EXPECT_EQ(curl("GET", "/subjects/orders-value/versions/1/schema").body, canonical);
  auto lookup = curl("POST", "/subjects/orders-value", again);
  EXPECT_EQ(lookup.doc()["version"], 1);
  EXPECT_EQ(curl("GET", "/schemas/types").body, R"(["AVRO","JSON"])");
  EXPECT_EQ(curl("GET", "/mode").body, R"({"mode":"READWRITE"})");
  // The content type of every answer.
  auto head = run_command("curl -sS -i '" + url() + "/subjects'", dir_, 20);
  EXPECT_NE(head.out.find("Content-Type: application/vnd.schemaregistry.v1+json"),
            std::string::npos)
      << head.out;
  // Confluent-shaped errors.
  auto missing = curl("GET", "/subjects/nope/versions/1");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body, R"({"error_code":40401,"message":"Subject 'nope' not found."})");
  EXPECT_EQ(curl("GET", "/subjects/orders-value/versions/9").doc()["error_code"], 40402);
  EXPECT_EQ(curl("GET", "/schemas/ids/99").doc()["error_code"], 40403);
  auto bad_version = curl("GET", "/subjects/orders-value/versions/abc");
  EXPECT_EQ(bad_version.status, 422);
  EXPECT_EQ(bad_version.doc()["error_code"], 42202);
  auto invalid = curl("POST", "/subjects/x/versions", json{{"schema", R"({"type":"recrod"})"}});
  EXPECT_EQ(invalid.status, 422);
  EXPECT_EQ(invalid.body,
            R"({"error_code":42201,"message":"Invalid schema: schema: unknown type 'recrod'"})");
  auto unknown = curl("GET", "/frobnicate");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.doc()["error_code"], 404);
}

TEST_F(RegistryTest, IncompatibleChangeIsRejectedNamingTheField) {
  ASSERT_EQ(
      curl("POST", "/subjects/orders-value/versions", avro(R"({"name":"amount","type":"double"})"))
          .status,
      200);
  auto bad = avro(R"({"name":"amount","type":"string"})");
  auto r = curl("POST", "/subjects/orders-value/versions", bad);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body,
            R"x({"error_code":409,"message":"Schema being registered is incompatible with an )x"
            R"x(earlier schema for subject \"orders-value\": field 'orders.amount' changed type )x"
            R"x(from double to string (BACKWARD: a reader using the new schema cannot read data )x"
            R"x(written with version 1)"})x");
  auto check =
      curl("POST", "/compatibility/subjects/orders-value/versions/latest?verbose=true", bad);
  EXPECT_EQ(check.status, 200);
  EXPECT_EQ(check.doc()["is_compatible"], false);
  ASSERT_EQ(check.doc()["messages"].size(), 1u);
  EXPECT_EQ(curl("POST", "/compatibility/subjects/orders-value/versions/1",
                 avro(R"({"name":"amount","type":"double"},{"name":"n","type":"int","default":1})"))
                .body,
            R"({"is_compatible":true})");
  // Per-subject config: NONE lets it through; the global default is untouched.
  EXPECT_EQ(curl("GET", "/config/orders-value").doc()["error_code"], 40408);
  EXPECT_EQ(curl("PUT", "/config/orders-value", json{{"compatibility", "NONE"}}).body,
            R"({"compatibility":"NONE"})");
  EXPECT_EQ(curl("GET", "/config/orders-value").body, R"({"compatibilityLevel":"NONE"})");
  EXPECT_EQ(curl("GET", "/config").body, R"({"compatibilityLevel":"BACKWARD"})");
  EXPECT_EQ(curl("POST", "/subjects/orders-value/versions", bad).body, R"({"id":2})");
  auto wrong_level = curl("PUT", "/config", json{{"compatibility", "SIDEWAYS"}});
  EXPECT_EQ(wrong_level.status, 422);
  EXPECT_EQ(wrong_level.doc()["error_code"], 42203);
  EXPECT_EQ(curl("PUT", "/config", json{{"compatibility", "full_transitive"}}).body,
            R"({"compatibility":"FULL_TRANSITIVE"})");
  EXPECT_EQ(curl("DELETE", "/config/orders-value").body, R"({"compatibilityLevel":"NONE"})");
  EXPECT_EQ(curl("GET", "/config/orders-value?defaultToGlobal=true").body,
            R"({"compatibilityLevel":"FULL_TRANSITIVE"})");
  // JSON Schema: a type change is refused, with the property's path.
  json js1 = {{"schemaType", "JSON"},
              {"schema", R"({"type":"object","properties":{"total":{"type":"number"}}})"}};
  json js2 = {{"schemaType", "JSON"},
              {"schema", R"({"type":"object","properties":{"total":{"type":"string"}}})"}};
  EXPECT_EQ(curl("POST", "/subjects/totals/versions", js1).status, 200);
  auto js_bad = curl("POST", "/subjects/totals/versions", js2);
  EXPECT_EQ(js_bad.status, 409);
  EXPECT_NE(js_bad.body.find("property 'total' changed type from number to string"),
            std::string::npos)
      << js_bad.body;
  EXPECT_EQ(curl("GET", "/subjects/totals/versions/1").doc()["schemaType"], "JSON");
  auto proto = curl("POST", "/subjects/p/versions",
                    json{{"schemaType", "PROTOBUF"}, {"schema", "syntax = \"proto3\";"}});
  EXPECT_EQ(proto.status, 422);
  EXPECT_NE(proto.body.find("PROTOBUF schemas are not supported"), std::string::npos);
}

TEST_F(RegistryTest, SoftAndHardDeleteThenRestartKeepsIds) {
  ASSERT_EQ(curl("POST", "/subjects/a/versions", json{{"schema", "\"string\""}}).body,
            R"({"id":1})");
  ASSERT_EQ(curl("POST", "/subjects/a/versions", json{{"schema", "\"bytes\""}}).body,
            R"({"id":2})");
  ASSERT_EQ(curl("POST", "/subjects/b/versions", json{{"schema", "\"int\""}}).body, R"({"id":3})");
  EXPECT_EQ(curl("DELETE", "/subjects/a/versions/1?permanent=true").doc()["error_code"], 40407);
  EXPECT_EQ(curl("DELETE", "/subjects/a/versions/1").body, "1");
  EXPECT_EQ(curl("GET", "/subjects/a/versions").body, "[2]");
  EXPECT_EQ(curl("GET", "/subjects/a/versions?deleted=true").body, "[1,2]");
  EXPECT_EQ(curl("DELETE", "/subjects/a/versions/1?permanent=true").body, "1");
  EXPECT_EQ(curl("DELETE", "/subjects/b").body, "[1]");
  EXPECT_EQ(curl("GET", "/subjects").body, R"(["a"])");
  EXPECT_EQ(curl("GET", "/subjects?deleted=true").body, R"(["a","b"])");
  EXPECT_EQ(curl("DELETE", "/subjects/b").doc()["error_code"], 40404);
  EXPECT_EQ(curl("DELETE", "/subjects/b?permanent=true").body, "[1]");
  EXPECT_EQ(curl("GET", "/schemas/ids/3").doc()["error_code"], 40403);
  ASSERT_TRUE(curl("PUT", "/config/a", json{{"compatibility", "FORWARD"}}).status == 200);

  // SIGTERM stops it gracefully; a new process finds everything, and ids keep growing.
  int status = registry_->kill(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << registry_->log();
  ASSERT_TRUE(registry_->start()) << registry_->log();
  EXPECT_EQ(curl("GET", "/subjects").body, R"(["a"])");
  EXPECT_EQ(curl("GET", "/subjects/a/versions/latest").doc()["id"], 2);
  EXPECT_EQ(curl("GET", "/schemas/ids/1").doc()["error_code"], 40403);  // hard-deleted
  EXPECT_EQ(curl("GET", "/config/a").body, R"({"compatibilityLevel":"FORWARD"})");
  EXPECT_EQ(curl("POST", "/subjects/c/versions", json{{"schema", "\"long\""}}).body, R"({"id":4})");
  // kill -9 loses nothing acknowledged.
  registry_->kill(SIGKILL);
  ASSERT_TRUE(registry_->start()) << registry_->log();
  EXPECT_EQ(curl("GET", "/schemas/ids/4").doc()["schema"], "\"long\"");
  EXPECT_EQ(curl("POST", "/subjects/c/versions", json{{"schema", "\"long\""}}).body, R"({"id":4})");
}

TEST_F(RegistryTest, KeepAliveClientAndWireFormat) {
  http::Client c("127.0.0.1", static_cast<uint16_t>(registry_->port()));
  for (int i = 0; i < 50; ++i) {
    auto r = c.post(
        "/subjects/s" + std::to_string(i % 5) + "/versions",
        json{{"schema", R"({"type":"fixed","name":"f)" + std::to_string(i) + R"(","size":4})"}}
            .dump(),
        "application/vnd.schemaregistry.v1+json");
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    ASSERT_EQ(r->status, i < 5 ? 200 : 409) << r->body;  // a renamed fixed is incompatible
    EXPECT_TRUE(c.connected());
  }
  auto fetched = c.get("/schemas/ids/3");
  ASSERT_TRUE(fetched.is_ok());
  EXPECT_EQ(json::parse(fetched->body)["schema"], R"({"type":"fixed","name":"f2","size":4})");
  // A message in the Confluent wire format carries the id a consumer looks up.
  std::string message = bus::encode_wire(3, "\x01\x02\x03\x04");
  auto decoded = bus::decode_wire(message);
  ASSERT_TRUE(decoded.is_ok());
  EXPECT_EQ(c.get("/schemas/ids/" + std::to_string(decoded->schema_id))->status, 200);
}

TEST_F(RegistryTest, ConfluentKafkaPythonClient) {
  auto probe =
      run_command("/usr/bin/python3 -c 'import confluent_kafka.schema_registry, avro'", dir_, 20);
  if (probe.code != 0) {
    GTEST_SKIP() << "python3-confluent-kafka or python3-avro is not installed: " << probe.out
                 << probe.err;
  }
  auto r = run_command("/usr/bin/python3 '" + std::string(SLUICE_SOURCE_DIR) +
                           "/tests/registry/confluent_client.py' " + url(),
                       dir_, 60);
  ASSERT_EQ(r.code, 0) << r.out << r.err << "\n" << registry_->log();
  // The Python producer's bytes decode with Sluice's wire format helpers.
  auto at = r.out.find("WIRE ");
  ASSERT_NE(at, std::string::npos) << r.out;
  std::string hex = r.out.substr(at + 5);
  while (!hex.empty() && std::isspace(static_cast<unsigned char>(hex.back())))
    hex.pop_back();
  std::string bytes;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    bytes.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  auto decoded = bus::decode_wire(bytes);
  ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
  EXPECT_EQ(curl("GET", "/subjects/payments-value/versions/2").doc()["id"], decoded->schema_id);
}

}  // namespace
}  // namespace sluice::registry
