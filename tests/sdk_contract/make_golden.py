#!/usr/bin/env python3
"""Regenerate tests/sdk_contract/golden/*.json: for every DRS and DNS call wavedeck's client
makes, what Huawei's SDK sends for the same operation (method, path, query, JSON body), recorded
by a loopback capture server. `tests/sdk_golden.rs` compares wavedeck's requests with these.

Usage: target/sdk-venv/bin/python tests/sdk_contract/make_golden.py
The ids below are the placeholders the Rust test uses too, so paths compare as they are."""

import json
import os
import sys

import common
import sdk_calls as calls
from capture import Capture

JOB = "JOBID0001"
COMPARE = "CMPID0001"
ZONE = "ZONEID0001"
RECORDSET = "RSID0001"
NAME = "wd-sdk-golden-01"
DNS_NAME = "orders.sdk-golden.internal."

# wavedeck's call name -> (SDK method, request). The names are the `call` strings of
# src/drs/client.rs ("dns-*" for src/cutover/dns.rs); "-mysql" is the same call for a MySQL
# job (the others are a PostgreSQL one).
DRS = [
    ("quotas", "show_quotas", calls.quotas()),
    ("list-jobs", "show_job_list", calls.list_jobs(NAME)),
    ("batch-creation", "batch_create_jobs", calls.create(NAME, "sdk-golden-01", 2560)),
    ("list-jobs-mysql", "show_job_list", calls.list_jobs(NAME, engine="mysql")),
    ("batch-creation-mysql", "batch_create_jobs", calls.create(NAME, "sdk-golden-01", 2560, engine="mysql")),
    ("batch-modification-mysql", "batch_update_job", calls.modify(JOB, NAME, engine="mysql")),
    ("batch-status", "batch_list_job_status", calls.status([JOB])),
    ("batch-detail", "batch_list_job_details", calls.detail([JOB])),
    ("batch-progress", "batch_list_progresses", calls.progress([JOB])),
    ("batch-connection", "batch_validate_connections", calls.connection(JOB)),
    ("batch-modification", "batch_update_job", calls.modify(JOB, NAME)),
    ("batch-select-objects", "batch_set_objects", calls.select_objects(JOB)),
    ("batch-precheck", "batch_check_jobs", calls.precheck([JOB])),
    ("batch-precheck-result", "batch_check_results", calls.precheck_result([JOB])),
    ("batch-starting", "batch_start_jobs", calls.start([JOB])),
    ("batch-pause-task", "batch_stop_jobs", calls.pause([JOB])),
    ("batch-retry-task", "batch_restore_task", calls.resume([JOB])),
    ("batch-jobs-terminate", "batch_delete_jobs", calls.delete_jobs([JOB], "terminate")),
    ("batch-jobs-delete", "batch_delete_jobs", calls.delete_jobs([JOB], "delete")),
    ("batch-switchover", "batch_switchover", calls.switchover([JOB])),
    ("object-compare", "create_object_level_compare_job", calls.object_compare(JOB)),
    ("object-compare-overview", "list_obeject_level_compare_overview", calls.object_compare_overview(JOB)),
    ("table-compare", "create_data_level_table_compare_job", calls.table_compare(JOB, "lines")),
    ("table-compare-list", "list_data_level_table_compare_jobs", calls.table_compares(JOB)),
    ("compare-cancel", "delete_compare_job", calls.cancel_compare(JOB, COMPARE)),
    ("line-overview", "list_data_compare_overview", calls.line_overview(JOB, COMPARE)),
    ("line-detail", "list_data_compare_detail", calls.line_detail(JOB, COMPARE)),
    ("content-overview", "list_content_compare_overview", calls.content_overview(JOB, COMPARE)),
    ("content-detail", "list_content_compare_detail", calls.content_detail(JOB, COMPARE)),
]
# Temporary credentials (made up): the same call as "batch-status", signed with a security
# token. Its golden request shows the X-Security-Token header, and its wire form (every header
# value, the body bytes) is kept in golden/signing/ as a signing vector: tests/sdk_golden.rs
# checks that wavedeck's verifier accepts the SDK's signature over it.
TEMP_AK = "SDKGOLDENTMPAK000001"
TEMP_SK = "sdkgoldentemporarysecretkey0000000000001"
TEMP_TOKEN = "sdk-golden-security-token-0001"
TEMPORARY = [
    ("batch-status-temporary", "batch_list_job_status", calls.status([JOB])),
]
# The exposure pre-check's reads ("rds-*" / "vpc-*" in src/cloud/client.rs).
INSTANCE = "RDSID0001"
SECURITY_GROUP = "SGID0001"
RDS = [
    ("rds-list-instances", "list_instances", calls.rds_instance(INSTANCE)),
]
VPC = [
    ("vpc-security-group-rules", "list_security_group_rules", calls.vpc_rules(SECURITY_GROUP)),
]
DNS = [
    ("dns-find", "list_record_sets_by_zone", calls.dns_find(ZONE, DNS_NAME)),
    ("dns-update", "update_record_set", calls.dns_update(ZONE, RECORDSET, DNS_NAME, "127.0.0.20", 5)),
    ("dns-show", "show_record_set", calls.dns_show(ZONE, RECORDSET)),
]


def main():
    out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
    os.makedirs(out_dir, exist_ok=True)
    cap = Capture()
    try:
        clients = {"drs": common.drs_client(cap.url), "dns": common.dns_client(cap.url),
                   "temporary": common.drs_client(cap.url, ak=TEMP_AK, sk=TEMP_SK,
                                                  security_token=TEMP_TOKEN),
                   "rds": common.rds_client(cap.url), "vpc": common.vpc_client(cap.url)}
        os.makedirs(os.path.join(out_dir, "signing"), exist_ok=True)
        for kind, table in (("drs", DRS), ("temporary", TEMPORARY), ("dns", DNS), ("rds", RDS),
                            ("vpc", VPC)):
            for op, method, req in table:
                getattr(clients[kind], method)(req)
                got = cap.take()
                if len(got) != 1:
                    sys.exit(f"{op}: the SDK sent {len(got)} requests, expected 1")
                wire = got[0].pop("wire")
                sdk = f"{'Drs' if kind == 'temporary' else kind.capitalize()}Client.{method}"
                golden = {"call": op, "sdk": sdk, **got[0]}
                write(os.path.join(out_dir, f"{op}.json"), golden)
                if kind == "temporary":
                    write(os.path.join(out_dir, "signing", f"{op}.json"), {
                        "call": op, "sdk": sdk, "method": got[0]["method"], "path": got[0]["path"],
                        "ak": TEMP_AK, "sk": TEMP_SK, "security_token": TEMP_TOKEN, **wire})
                print(f"{op}: {got[0]['method']} {got[0]['path']}")
    finally:
        cap.stop()


def write(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
