#include "io/postgres/pg_target.h"

#include <gtest/gtest.h>

namespace nightshift::io::pg {
namespace {

TEST(PgTargetTest, UrlAndKeyValueSpellingsOfOneDatabaseAreTheSame) {
  EXPECT_TRUE(SameDatabase("postgresql://u:pw@db.example:5433/crm",
                           "host=db.example port=5433 dbname=crm user=u password=other"));
  EXPECT_TRUE(SameDatabase("postgresql://u@/crm?host=/tmp/sock&port=5432",
                           "postgres://u:secret@/crm?host=/tmp/sock&sslmode=disable"));
  // dbname defaults to the user.
  EXPECT_TRUE(SameDatabase("postgresql://crm@db.example/", "postgresql://crm@db.example/crm"));
}

TEST(PgTargetTest, AnotherServerPortDatabaseOrUserIsNotTheSame) {
  const std::string base = "postgresql://u@db.example:5432/crm";
  EXPECT_FALSE(SameDatabase(base, "postgresql://u@db2.example:5432/crm"));
  EXPECT_FALSE(SameDatabase(base, "postgresql://u@db.example:5433/crm"));
  EXPECT_FALSE(SameDatabase(base, "postgresql://u@db.example:5432/other"));
  EXPECT_FALSE(SameDatabase(base, "postgresql://v@db.example:5432/crm"));
  EXPECT_FALSE(SameDatabase(base, "postgresql://u@db.example:5432/crm?hostaddr=10.0.0.1"));
  EXPECT_FALSE(SameDatabase(base, "not a location"));
}

}  // namespace
}  // namespace nightshift::io::pg
