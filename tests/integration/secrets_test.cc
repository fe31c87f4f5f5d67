// k6/secrets through the real binary: --secret-source file= and mock= sources,
// named and default sources, redaction in every log format, errors, and the
// flag reaching the runners of a --parallelism run.
#include "harness.h"

namespace herd::it {
namespace {

class SecretsTest : public HerdTest {};

const char* kSecretsScript = R"JS(
import { check } from 'k6';
import secrets from 'k6/secrets';
import { get, source } from 'k6/secrets';
export const options = { iterations: 1 };
export default async function () {
  const token = await secrets.get('token');
  const fromMock = await source('cli').get('token');
  const same = await get('user');
  console.log(`token is ${token}, user is ${same}`);
  console.warn('mock said ' + fromMock);
  let missing;
  try { await secrets.get('absent'); } catch (e) { missing = e; }
  let unknownSource;
  try { secrets.source('vault'); } catch (e) { unknownSource = e; }
  check(null, {
    'file secret from the default source': () => token === 's3cr3t=with=equals',
    'named mock source': () => fromMock === 'mock-value-42',
    'named export get': () => same === 'alice-in-herd',
    'missing key rejects naming it': () => missing instanceof Error && missing.message.includes('"absent"'),
    'unknown source throws naming it': () => unknownSource instanceof Error && unknownSource.message.includes('"vault"'),
  });
  throw new Error('failing with ' + token);
}
)JS";

TEST_F(SecretsTest, FileAndMockSourcesAreReadAndRedactedFromLogs) {
  dir_.write("secrets.txt", "token=s3cr3t=with=equals\r\nuser=alice-in-herd\n\n");
  ProcResult r;
  json exp = run_export(kSecretsScript, &r,
                        {"--secret-source=file=name=disk,filename=secrets.txt,default", "--secret-source",
                         "mock=name=cli,token=mock-value-42"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 5);
  EXPECT_NE(r.err.find("token is ***SECRET_REDACTED***, user is ***SECRET_REDACTED***"), std::string::npos) << r;
  EXPECT_NE(r.err.find("mock said ***SECRET_REDACTED***"), std::string::npos) << r;
  EXPECT_NE(r.err.find("failing with ***SECRET_REDACTED***"), std::string::npos) << r;
  for (const char* raw : {"s3cr3t", "alice-in-herd", "mock-value-42"}) {
    EXPECT_EQ(r.err.find(raw), std::string::npos) << raw << "\n" << r;
    EXPECT_EQ(r.out.find(raw), std::string::npos) << raw << "\n" << r;
  }
}

TEST_F(SecretsTest, JsonLogsAndRunnersOfAParallelRunRedactToo) {
  dir_.write("secrets.txt", "token=s3cr3t=with=equals\nuser=alice-in-herd\n");
  ProcResult r;
  json exp = run_export(kSecretsScript, &r,
                        {"--parallelism", "2", "--log-format", "json", "--secret-source", "file=secrets.txt",
                         "--secret-source=mock=name=cli,token=mock-value-42",
                         "--secret-source=file=name=disk,filename=secrets.txt,default"});
  // Two file sources: the unnamed one and "disk" (the default).
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 5);
  EXPECT_NE(r.err.find("\"msg\":\"token is ***SECRET_REDACTED***"), std::string::npos) << r;
  EXPECT_EQ(r.err.find("s3cr3t"), std::string::npos) << r;
}

TEST_F(SecretsTest, NoDefaultSourceAndBadFlagValuesAreClearErrors) {
  ProcResult r = run_script(R"JS(
import secrets from 'k6/secrets';
export const options = { iterations: 1 };
export default async function () {
  try { await secrets.get('k'); } catch (e) { console.log('E1 ' + e.message); }
  console.log('E2 ' + await secrets.source('b').get('k'));
}
)JS",
                            {"--secret-source=mock=name=a,k=one", "--secret-source=mock=name=b,k=two"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.err.find("E1 secrets: several secret sources and none is the default"), std::string::npos) << r;
  EXPECT_NE(r.err.find("E2 ***SECRET_REDACTED***"), std::string::npos) << r;

  r = run_script("export default function () {}", {"--secret-source", "file=nowhere.txt"});
  EXPECT_EQ(r.exit_code, 104) << r;
  EXPECT_NE(r.err.find("--secret-source"), std::string::npos) << r;
  EXPECT_NE(r.err.find("nowhere.txt: cannot read it"), std::string::npos) << r;

  r = run_script("export default function () {}", {"--secret-source=url=https://vault.invalid/"});
  EXPECT_EQ(r.exit_code, 104) << r;
  EXPECT_NE(r.err.find("the url secret source is not supported by herd"), std::string::npos) << r;

  r = run_script(R"JS(
import secrets from 'k6/secrets';
export default async function () {
  try { await secrets.get('k'); } catch (e) { console.log('E3 ' + e.message); }
}
)JS",
                 {"-i", "1"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.err.find("E3 secrets: no secret source is configured"), std::string::npos) << r;
}

}  // namespace
}  // namespace herd::it
