#include "common/data_dir.h"

#include <gtest/gtest.h>

#include <fstream>

namespace sluice::common {
namespace {

TEST(DataDir, CreatesRootAndSubdirs) {
  auto root = std::filesystem::temp_directory_path() / "sluice_data_dir_test" / "nested";
  std::filesystem::remove_all(root.parent_path());
  auto d = DataDir::open(root);
  ASSERT_TRUE(d.is_ok()) << d.status().to_string();
  EXPECT_TRUE(std::filesystem::is_directory(root));
  auto lake = d->subdir("lake");
  ASSERT_TRUE(lake.is_ok());
  EXPECT_TRUE(std::filesystem::is_directory(*lake));
  EXPECT_TRUE(d->root().is_absolute());
  std::filesystem::remove_all(root.parent_path());
}

TEST(DataDir, RefusesAFile) {
  auto file = std::filesystem::temp_directory_path() / "sluice_data_dir_file";
  std::ofstream(file) << "x";
  auto d = DataDir::open(file);
  ASSERT_FALSE(d.is_ok());
  EXPECT_NE(d.status().message().find("cannot create data directory"), std::string::npos)
      << d.status().message();
  std::filesystem::remove(file);
}

}  // namespace
}  // namespace sluice::common
