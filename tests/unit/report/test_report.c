/* JSON renderings of result structs: exact documents (member order, null, booleans, times), and file
 * names that are not UTF-8 kept in the report instead of dropped. */
#include "holdfast/report.h"
#include "test.h"
#include "util/error.h"

static void test_fields(void)
{
	const hf_report_field f[] = {{"id", HF_FIELD_STRING, "abc", 0},
	                             {"missing", HF_FIELD_STRING, NULL, 0},
	                             {"count", HF_FIELD_UINT, NULL, 18446744073709551615ull >> 1},
	                             {"flag", HF_FIELD_BOOL, NULL, 1}};
	char *doc = NULL;
	CHECK_OK(hf_report_fields_json(&doc, f, 4));
	CHECK_STR(doc, "{\n  \"id\": \"abc\",\n  \"missing\": null,\n  \"count\": 9223372036854775807,\n"
	               "  \"flag\": true\n}");
	free(doc);
	doc = NULL;
	CHECK_OK(hf_report_fields_json(&doc, f, 0));
	CHECK_STR(doc, "{}");
	free(doc);
}

static void test_check(void)
{
	char *files[] = {"0123456789ab:etc/ok.conf",
	                 "0123456789ab:etc/caf\xe9.conf"}; /* Latin-1, not UTF-8 */
	hf_check_problem p = {"data/t/ab/ab12", NULL, "pack is missing", files, 2};
	hf_check_report rep = {&p, 1, 1, 2, 3, 2, 4096, 7, 0};
	char *doc = NULL;
	CHECK_OK(hf_report_check_json(&doc, &rep));
	CHECK_STR(
	    doc,
	    "{\n  \"ok\": false,\n  \"tenants\": 1,\n  \"snapshots\": 2,\n  \"packs\": 3,\n"
	    "  \"packs_read\": 2,\n  \"bytes_read\": 4096,\n  \"blobs_read\": 7,\n"
	    "  \"unreferenced_packs\": 0,\n  \"problems\": [\n    {\n      \"object\": \"data/t/ab/ab12\",\n"
	    "      \"tenant\": null,\n      \"message\": \"pack is missing\",\n      \"affected\": [\n"
	    "        \"0123456789ab:etc/ok.conf\",\n        \"0123456789ab:etc/caf?.conf\"\n      ]\n"
	    "    }\n  ]\n}");
	free(doc);
	rep.nproblems = 0;
	doc = NULL;
	CHECK_OK(hf_report_check_json(&doc, &rep));
	CHECK(doc && strstr(doc, "\"ok\": true") && strstr(doc, "\"problems\": []"));
	free(doc);
}

static void test_snapshots_and_tenants(void)
{
	hf_snapshot_info s[2];
	hf_tenant_info t = {"acme", "gold", "0011", 1700000000, 2, 0, 10, 20};
	char *doc = NULL;
	memset(s, 0, sizeof(s));
	strcpy(s[0].id, "aa");
	s[0].tenant = "acme";
	s[0].source = "files";
	s[0].label = "";
	s[0].time_ns = 1700000000ll * 1000000000;
	s[0].recovery_ns = s[0].time_ns;
	s[1] = s[0];
	strcpy(s[1].id, "bb");
	strcpy(s[1].parent, "aa");
	s[1].safety = 1;
	s[1].lsn = "0/16B3748";
	CHECK_OK(hf_report_snapshots_json(&doc, s, 2));
	CHECK(doc && strstr(doc, "\"time\": \"2023-11-14T22:13:20Z\""));
	CHECK(doc && strstr(doc, "\"parent\": null") && strstr(doc, "\"parent\": \"aa\""));
	CHECK(doc && strstr(doc, "\"kind\": \"backup\"") && strstr(doc, "\"kind\": \"safety\""));
	CHECK(doc && strstr(doc, "\"lsn\": null") && strstr(doc, "\"lsn\": \"0/16B3748\""));
	free(doc);
	doc = NULL;
	CHECK_OK(hf_report_snapshots_json(&doc, s, 0));
	CHECK_STR(doc, "[]");
	free(doc);
	doc = NULL;
	CHECK_OK(hf_report_tenant_json(&doc, &t));
	CHECK_STR(
	    doc,
	    "{\n  \"id\": \"acme\",\n  \"tier\": \"gold\",\n  \"handle\": \"0011\",\n"
	    "  \"created\": 1700000000,\n  \"snapshots\": 2,\n  \"last_backup\": null,\n  \"size\": 10,\n"
	    "  \"stored\": 20\n}");
	free(doc);
}

int main(void)
{
	test_fields();
	test_check();
	test_snapshots_and_tenants();
	TEST_MAIN_END();
}
