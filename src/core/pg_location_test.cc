#include "nightshift/pg_location.h"

#include <gtest/gtest.h>

namespace nightshift {
namespace {

TEST(PgLocation, RecognizesUrlsAndKeyValueStrings) {
  EXPECT_TRUE(IsPostgresLocation("postgresql://u@h/db"));
  EXPECT_TRUE(IsPostgresLocation("postgres://h/db"));
  EXPECT_TRUE(IsPostgresLocation("host=/tmp/sock dbname=crm user=scorer"));
  EXPECT_TRUE(IsPostgresLocation("  dbname = crm"));
  EXPECT_TRUE(IsPostgresLocation("service=ledger"));
  EXPECT_FALSE(IsPostgresLocation("/var/lib/ledger.db"));
  EXPECT_FALSE(IsPostgresLocation("runs/a=b.db"));  // a path with '=' is not one
  EXPECT_FALSE(IsPostgresLocation("color=blue"));   // not a libpq keyword
  EXPECT_FALSE(IsPostgresLocation(""));
}

TEST(PgLocation, RedactsThePasswordOfAUrl) {
  EXPECT_EQ(RedactPostgresLocation("postgresql://scorer:s3cr3t@db:5432/crm"),
            "postgresql://scorer@db:5432/crm");
  EXPECT_EQ(RedactPostgresLocation("postgresql://scorer:s3cr3t@/crm?host=/tmp/s&password=x&port=1"),
            "postgresql://scorer@/crm?host=/tmp/s&port=1");
  EXPECT_EQ(RedactPostgresLocation("postgresql://scorer@db/crm?password=s3cr3t"),
            "postgresql://scorer@db/crm");
  EXPECT_EQ(RedactPostgresLocation("postgres://db/crm"), "postgres://db/crm");
  EXPECT_EQ(RedactPostgresLocation("postgresql://u:p@ss@db/crm"), "postgresql://u@db/crm");
}

TEST(PgLocation, RedactsThePasswordOfKeyValues) {
  EXPECT_EQ(RedactPostgresLocation("host=db password=s3cr3t dbname=crm"), "host=db dbname=crm");
  EXPECT_EQ(RedactPostgresLocation("host=db password = 'a \\' b c' user=u"), "host=db user=u");
  EXPECT_EQ(RedactPostgresLocation("password=x"), "");
  EXPECT_EQ(RedactPostgresLocation("/data/ledger.db"), "/data/ledger.db");
}

}  // namespace
}  // namespace nightshift
