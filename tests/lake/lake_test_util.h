// Helpers for the lake tests: a temporary warehouse, schemas and made-up data files.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "lake/lake.h"
#include "lake/lake_internal.h"

namespace sluice::lake::testing {

inline std::string hex(std::string_view b) {
  static const char* kHex = "0123456789abcdef";
  std::string s;
  for (unsigned char c : b) {
    s += kHex[c >> 4];
    s += kHex[c & 15];
  }
  return s;
}

inline NestedField field(int id, std::string name, std::string type, bool required = false) {
  return NestedField{id, std::move(name), required, Type::of(std::move(type)), ""};
}

// id long (required), ts timestamptz, region string, amount double.
inline Schema orders_schema() {
  Schema s;
  s.fields = {field(1, "id", "long", true), field(2, "ts", "timestamptz"),
              field(3, "region", "string"), field(4, "amount", "double")};
  return s;
}

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("sluice-lake-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

class LakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = Catalog::open(dir_.path() / "warehouse");
    ASSERT_TRUE(c.is_ok()) << c.status().to_string();
    catalog_ = *c;
  }
  void TearDown() override { detail::set_fault_hook(nullptr); }

  Table create(const std::string& name, const Schema& schema = orders_schema(),
               CreateTableOptions opts = {}) {
    auto id = TableIdent::parse(name);
    EXPECT_TRUE(id.is_ok());
    auto t = catalog_->create_table(*id, schema, opts);
    EXPECT_TRUE(t.is_ok()) << t.status().to_string();
    return std::move(t).value();
  }
  Table load(const std::string& name) {
    auto t = catalog_->load_table(*TableIdent::parse(name));
    EXPECT_TRUE(t.is_ok()) << t.status().to_string();
    return std::move(t).value();
  }

  TempDir dir_;
  std::shared_ptr<Catalog> catalog_;
};

// A data file with made-up stats: ids in [lo, hi], `rows` records, no nulls in id.
inline DataFile data_file(const std::string& path, int64_t lo, int64_t hi, int64_t rows = 10,
                          std::vector<Value> partition = {}, int spec_id = 0) {
  DataFile f;
  f.file_path = path;
  f.record_count = rows;
  f.file_size_in_bytes = 1000 + rows;
  f.spec_id = spec_id;
  f.partition = std::move(partition);
  f.value_counts[1] = rows;
  f.null_value_counts[1] = 0;
  f.lower_bounds[1] = *encode_single_value(*Type::of("long"), lo);
  f.upper_bounds[1] = *encode_single_value(*Type::of("long"), hi);
  return f;
}

inline void touch(const std::filesystem::path& p, const std::string& content = "x") {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p) << content;
}

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace sluice::lake::testing
