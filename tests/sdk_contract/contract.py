#!/usr/bin/env python3
"""Huawei's own SDK (huaweicloudsdkdrs / dns / rds / vpc, pinned in requirements.txt) as the
client of a freshly started `wavedeck emulator`: a whole job's life through `DrsClient` (v3),
a DNS record-set switch through `DnsClient` (v2), the exposure pre-check's reads through
`RdsClient` and `VpcClient` (v3), the restore test's RDS calls (backups, restore to a new
instance, list it until ACTIVE, delete it) through `RdsClient` on a native emulator, and the
refusals DRS and RDS give, each checked by the SDK
exception's `error_code`.

Every answer is read through the SDK's response model. A step fails when
- a key of the raw answer is not declared by the SDK model, or has another JSON type (the SDK
  would drop or mangle it: the real client would never see that field), or
- a field the model declares comes back empty where DRS documents a value.

Prints one line per check, then `N passed, N failed`; exits 1 when anything failed.
Usage: target/sdk-venv/bin/python tests/sdk_contract/contract.py   (after `cargo build`)
"""

import datetime
import os
import subprocess
import sys
import time
import traceback

from huaweicloudsdkcore.exceptions import exceptions as sdk_exc

import common
import sdk_calls as calls
from common import drift, field, missing

# Checks that fail today only because of a gap another issue is fixing. Each entry names the
# item; the check still runs and prints "known gap" instead of failing. Remove an entry once
# the fix landed (the run says so when a listed check passes).
KNOWN_GAPS = {
}


class Run:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.gaps = 0
        # Names the engine of the job under way, so both lives' checks are told apart.
        self.prefix = ""

    def check(self, name, problems):
        name = self.prefix + name
        problems = [p for p in problems if p]
        if not problems:
            if name in KNOWN_GAPS:
                print(f"ok    {name}  (listed as a known gap, {KNOWN_GAPS[name]}: remove it from KNOWN_GAPS)")
            else:
                print(f"ok    {name}")
            self.passed += 1
        elif name in KNOWN_GAPS:
            print(f"known gap  {name}  [{KNOWN_GAPS[name]}]: " + "; ".join(problems))
            self.gaps += 1
        else:
            print(f"FAIL  {name}: " + "; ".join(problems))
            self.failed += 1
        return not problems


def answer(raw, resp, type_name, documented):
    """Problems of one answer: drift of its raw body from the SDK model, and documented fields
    that came back empty through the model."""
    return drift(raw.body, type_name, "answer") + [
        f"{p} is empty (DRS documents a value)" for p in missing(resp, documented)]


def call(run, name, fn, req, raw, type_name, documented):
    """Send one request through the SDK and check its answer; returns the response or None."""
    try:
        resp = fn(req)
    except sdk_exc.SdkException as e:
        run.check(name, [f"SDK raised {type(e).__name__} {getattr(e, 'error_code', '')}: "
                         f"{getattr(e, 'error_msg', e)}"])
        return None
    run.check(name, answer(raw, resp, type_name, documented))
    return resp


def wait(fn, until, timeout_s=30.0, every_s=0.01):
    """Call `fn` until `until(result)` holds; the last result either way."""
    deadline = time.monotonic() + timeout_s
    while True:
        r = fn()
        if until(r) or time.monotonic() > deadline:
            return r
        time.sleep(every_s)


def refusal(run, name, fn, req, raw, code, status):
    """The SDK raises its exception with DRS's `error_code` (read, like the Terraform provider
    does, from `results[0].error_code` when DRS puts it there)."""
    try:
        fn(req)
    except sdk_exc.ServiceResponseException as e:
        got = e.error_code
        body = raw.body if isinstance(raw.body, dict) else {}
        inner = (body.get("results") or [{}])[0].get("error_code") if body.get("results") else None
        problems = []
        if got != code and inner != code:
            problems.append(f"error_code {got!r} (results[0]: {inner!r}), DRS answers {code}")
        if e.status_code != status:
            problems.append(f"HTTP {e.status_code}, DRS answers {status}")
        return run.check(name, problems)
    run.check(name, [f"the SDK raised nothing (HTTP {raw.status}); DRS refuses with {status} {code}: "
                     f"{raw.body}"])


def quotas(run, client, raw):
    call(run, "quotas (show_quotas)", client.show_quotas, calls.quotas(), raw, "ShowQuotasResponse",
         ["quotas.resource.type", "quotas.resource.quota", "quotas.resource.used"])


def job_life(run, client, raw, engine):
    """One job from create to delete: PostgreSQL is a `sync` job, MySQL a `migration` one."""
    run.prefix = f"[{engine}] "
    name = f"wd-sdk-contract-{engine}"
    db_id = f"sdk-contract-{engine}"
    # A 5 GB job: full load lasts ~50 emulated seconds (0.1 s at x500), long enough to see it
    # under way; its value comparison ~1000 (2 s).
    r = call(run, "batch create with wavedeck's tags (batch_create_jobs)", client.batch_create_jobs,
             calls.create(name, db_id, 5120, engine=engine), raw, "BatchCreateJobsResponse",
             ["count", "results[0].id", "results[0].name", "results[0].status", "results[0].create_time"])
    job = field(r, "results[0].id") if r else None
    if not job:
        run.check("the rest of the job's life", ["no job was created"])
        return
    ids = [job]
    call(run, "tenant list finds the job by name (show_job_list)", client.show_job_list,
         calls.list_jobs(name, engine=engine), raw, "ShowJobListResponse",
         ["total_record", "jobs[0].id", "jobs[0].name", "jobs[0].status", "jobs[0].create_time",
          "jobs[0].engine_type", "jobs[0].db_use_type", "jobs[0].task_type", "jobs[0].job_direction"])
    call(run, "status (batch_list_job_status)", client.batch_list_job_status, calls.status(ids), raw,
         "BatchListJobStatusResponse", ["count", "results[0].id", "results[0].status"])
    d = call(run, "detail (batch_list_job_details)", client.batch_list_job_details, calls.detail(ids), raw,
             "BatchListJobDetailsResponse",
             ["count", "results[0].id", "results[0].name", "results[0].status", "results[0].create_time",
              "results[0].task_type", "results[0].db_use_type", "results[0].job_direction",
              "results[0].source_endpoint.db_type", "results[0].source_endpoint.ip",
              "results[0].target_endpoint.db_type", "results[0].target_endpoint.inst_id",
              "results[0].tags", "results[0].inst_info.engine_type", "results[0].inst_info.inst_type",
              "results[0].inst_info.ip", "results[0].inst_info.status", "results[0].inst_info.volume_size"])
    if d is not None:
        tags = {t.key: t.value for t in (field(d, "results[0].tags") or [])}
        run.check("detail carries wavedeck's tags back",
                  [] if tags.get("wavedeck-db-id") == db_id and tags.get("wavedeck-size-mb") == "5120"
                  else [f"tags {tags}"])
    call(run, "progress while creating (batch_list_progresses)", client.batch_list_progresses,
         calls.progress(ids), raw, "BatchListProgressesResponse",
         ["count", "results[0].job_id", "results[0].transfer_status"])

    def status_now():
        return field(client.batch_list_job_status(calls.status(ids)), "results[0].status")
    s = wait(status_now, lambda s: s == "CONFIGURATION")
    run.check("job reaches CONFIGURATION", [] if s == "CONFIGURATION" else [f"status {s}"])

    r = call(run, "connection test source and target (batch_validate_connections)",
             client.batch_validate_connections, calls.connection(job, engine=engine), raw, "BatchValidateConnectionsResponse",
             ["count", "results[0].id", "results[0].status", "results[1].id", "results[1].status"])
    if r is not None:
        run.check("both connection tests pass",
                  [f"{x.id}: {x.status} {x.error_code} {x.error_msg}" for x in r.results
                   if not (x.success or x.status in ("success", "true"))])
    r = call(run, "batch modification saving the endpoints (batch_update_job)", client.batch_update_job,
             calls.modify(job, name, engine=engine), raw, "BatchUpdateJobResponse",
             ["count", "results[0].id", "results[0].status"])
    if r is not None:
        run.check("batch modification succeeds",
                  [f"{x.id}: {x.status} {x.error_code} {x.error_msg}" for x in r.results if x.status != "success"])
    r = call(run, "object selection (batch_set_objects)", client.batch_set_objects, calls.select_objects(job),
             raw, "BatchSetObjectsResponse", ["results[0].job_id", "results[0].status"])
    if r is not None:
        run.check("object selection succeeds",
                  [f"{x.job_id}: {x.error_code} {x.error_msg}" for x in r.results if x.status is not True])

    r = call(run, "pre-check (batch_check_jobs)", client.batch_check_jobs, calls.precheck(ids), raw,
             "BatchCheckJobsResponse", ["count", "results[0].id", "results[0].precheck_id", "results[0].status"])
    pid = field(r, "results[0].precheck_id") if r else None
    if pid:
        res = wait(lambda: client.batch_check_results(calls.precheck_result([pid])),
                   lambda x: field(x, "results[0].process") == "100%")
        run.check("pre-check result (batch_check_results)", answer(
            raw, res, "BatchCheckResultsResponse",
            ["count", "results[0].precheck_id", "results[0].result", "results[0].process",
             "results[0].total_passed_rate", "results[0].rds_instance_id", "results[0].job_direction",
             "results[0].precheck_result", "results[0].precheck_result[0].item",
             "results[0].precheck_result[0].result"]))
        run.check("pre-check passes", [] if field(res, "results[0].result") is True
                  else [f"result {field(res, 'results[0].result')} process {field(res, 'results[0].process')}"])

    r = call(run, "start (batch_start_jobs)", client.batch_start_jobs, calls.start(ids), raw,
             "BatchStartJobsResponse", ["count", "results[0].id", "results[0].status"])
    seen_full = []

    def prog():
        p = client.batch_list_progresses(calls.progress(ids))
        st = field(p, "results[0].transfer_status")
        if st == "FULL_TRANSFER_STARTED":
            seen_full.append((p, drift(raw.body, "BatchListProgressesResponse", "answer")))
        return p
    p = wait(prog, lambda p: field(p, "results[0].transfer_status") == "INCRE_TRANSFER_STARTED")
    if seen_full:
        fp, fdrift = seen_full[len(seen_full) // 2]
        pct = field(fp, "results[0].progress")
        run.check("progress during full load", fdrift + [
            f"{f} is empty (DRS documents a value)" for f in
            missing(fp, ["results[0].progress", "results[0].remaining_time", "results[0].task_mode",
                         "results[0].progress_map.data.completed"])] + (
            [] if pct is not None and 0 <= float(str(pct).rstrip("%")) <= 100 else [f"progress {pct!r}"]) + (
            [] if str(field(fp, "results[0].progress_map.data.completed") or "").endswith("%")
            else [f"progress_map.data.completed {field(fp, 'results[0].progress_map.data.completed')!r} "
                  "is not a percent (progress_info.py: \"94%\")"]))
    else:
        run.check("progress during full load", ["FULL_TRANSFER_STARTED was never seen"])
    delay = field(p, "results[0].incre_trans_delay")
    run.check("progress in CDC with incre_trans_delay", answer(
        raw, p, "BatchListProgressesResponse",
        ["results[0].transfer_status", "results[0].incre_trans_delay", "results[0].incre_trans_delay_millis"]) + (
        [] if field(p, "results[0].transfer_status") == "INCRE_TRANSFER_STARTED"
        else [f"status {field(p, 'results[0].transfer_status')}"]) + (
        [] if delay is not None and str(delay).lstrip("-").isdigit() and int(delay) >= 0
        else [f"incre_trans_delay {delay!r} is not a number of seconds >= 0"]))

    compare(run, client, raw, job)

    r = call(run, "pause (batch_stop_jobs)", client.batch_stop_jobs, calls.pause(ids), raw,
             "BatchStopJobsResponse", ["count", "results[0].id", "results[0].status"])
    s = wait(status_now, lambda s: s == "PAUSING")
    run.check("paused job is PAUSING", [] if s == "PAUSING" else [f"status {s}"])
    call(run, "resume (batch_restore_task)", client.batch_restore_task, calls.resume(ids), raw,
         "BatchRestoreTaskResponse", ["count", "results[0].id", "results[0].status"])
    s = wait(status_now, lambda s: s == "INCRE_TRANSFER_STARTED")
    run.check("resumed job is back in CDC", [] if s == "INCRE_TRANSFER_STARTED" else [f"status {s}"])

    call(run, "terminate (batch_delete_jobs terminate)", client.batch_delete_jobs,
         calls.delete_jobs(ids, "terminate"), raw, "BatchDeleteJobsResponse",
         ["count", "results[0].id", "results[0].status"])
    s = wait(status_now, lambda s: s == "RELEASE_RESOURCE_COMPLETE")
    run.check("terminated job releases its resources", [] if s == "RELEASE_RESOURCE_COMPLETE" else [f"status {s}"])
    call(run, "delete (batch_delete_jobs delete)", client.batch_delete_jobs, calls.delete_jobs(ids, "delete"),
         raw, "BatchDeleteJobsResponse", ["count", "results[0].id", "results[0].status"])
    run.prefix = ""


def compare(run, client, raw, job):
    r = call(run, "object-level comparison (create_object_level_compare_job)",
             client.create_object_level_compare_job, calls.object_compare(job), raw,
             "CreateObjectLevelCompareJobResponse", [])
    call(run, "object-level comparison overview (list_obeject_level_compare_overview)",
         client.list_obeject_level_compare_overview, calls.object_compare_overview(job), raw,
         "ListObejectLevelCompareOverviewResponse", ["compare_job_id", "status"])
    # One unfinished data-level comparison per job (a new one replaces it): one after the other.
    ids = {}

    def listing():
        return client.list_data_level_table_compare_jobs(calls.table_compares(job))

    def done(x, cid):
        return any(c.id == cid and c.status == "SUCCESSFUL" for c in (x.compare_jobs or []))
    for kind in ("lines", "contents"):
        r = call(run, f"data-level comparison {kind} (create_data_level_table_compare_job)",
                 client.create_data_level_table_compare_job, calls.table_compare(job, kind), raw,
                 "CreateDataLevelTableCompareJobResponse", ["id"])
        if r is None or not r.id:
            continue
        ids[kind] = r.id
        lst = wait(listing, lambda x: done(x, r.id))
        run.check(f"data-level comparison {kind} listed until SUCCESSFUL (list_data_level_table_compare_jobs)",
                  answer(raw, lst, "ListDataLevelTableCompareJobsResponse",
                         ["count", "compare_jobs[0].id", "compare_jobs[0].type", "compare_jobs[0].status",
                          "compare_jobs[0].start_time"]) + (
                      [] if done(lst, r.id) else [f"{[(c.id, c.status) for c in lst.compare_jobs or []]}"]))
    if "lines" in ids:
        call(run, "row-count results overview (list_data_compare_overview)", client.list_data_compare_overview,
             calls.line_overview(job, ids["lines"]), raw, "ListDataCompareOverviewResponse",
             ["total_count", "data_compare_overview_infos[0].source_db_name",
              "data_compare_overview_infos[0].target_db_name", "data_compare_overview_infos[0].status"])
        call(run, "row-count results per table (list_data_compare_detail)", client.list_data_compare_detail,
             calls.line_detail(job, ids["lines"]), raw, "ListDataCompareDetailResponse",
             ["total_count", "table_line_compare_result_infos[0].source_table_name",
              "table_line_compare_result_infos[0].source_row_num",
              "table_line_compare_result_infos[0].target_row_num",
              "table_line_compare_result_infos[0].status"])
    if "contents" in ids:
        call(run, "value results overview (list_content_compare_overview)", client.list_content_compare_overview,
             calls.content_overview(job, ids["contents"]), raw, "ListContentCompareOverviewResponse",
             ["total_count", "content_compare_result_infos[0].source_db", "content_compare_result_infos[0].status"])
        call(run, "value results per table (list_content_compare_detail)", client.list_content_compare_detail,
             calls.content_detail(job, ids["contents"]), raw, "ListContentCompareDetailResponse",
             ["total_count", "content_compare_result_infos[0].source_db",
              "content_compare_result_infos[0].source_table_name", "content_compare_result_infos[0].status"])
    # A fresh comparison, cancelled while it runs (what the engine does when it gives up on one).
    r = call(run, "data-level comparison to cancel", client.create_data_level_table_compare_job,
             calls.table_compare(job, "lines"), raw, "CreateDataLevelTableCompareJobResponse", ["id"])
    if r is not None and r.id:
        call(run, "cancel a comparison (delete_compare_job)", client.delete_compare_job,
             calls.cancel_compare(job, r.id), raw, "DeleteCompareJobResponse", [])


def dns_switch(run, dns, raw):
    zone = "2c9eb155587194ec01587224c9f90149"
    name = "orders.sdk-contract.internal."
    try:
        dns.create_record_set(calls.dns_create(zone, name, "127.0.0.10"))
    except sdk_exc.SdkException as e:
        run.check("DNS record set created (create_record_set)", [f"{e.error_code}: {e.error_msg}"])
        return
    r = call(run, "DNS list a record set by name (list_record_sets_by_zone)", dns.list_record_sets_by_zone,
             calls.dns_find(zone, name), raw, "ListRecordSetsByZoneResponse",
             ["metadata.total_count", "recordsets[0].id", "recordsets[0].name", "recordsets[0].type",
              "recordsets[0].ttl", "recordsets[0].records", "recordsets[0].status", "recordsets[0].zone_id",
              "recordsets[0].zone_name", "recordsets[0].default", "recordsets[0].project_id",
              "recordsets[0].links._self"])
    rid = field(r, "recordsets[0].id") if r else None
    if not rid:
        return
    u = call(run, "DNS update the record set (update_record_set)", dns.update_record_set,
             calls.dns_update(zone, rid, name, "127.0.0.20", 5), raw, "UpdateRecordSetResponse",
             ["id", "name", "type", "ttl", "records", "status", "zone_name", "default", "project_id",
              "links._self"])
    if u is not None:
        run.check("DNS update answers PENDING_UPDATE", [] if u.status == "PENDING_UPDATE" else [f"status {u.status}"])
    s = wait(lambda: dns.show_record_set(calls.dns_show(zone, rid)), lambda s: s.status == "ACTIVE")
    run.check("DNS record set polled until ACTIVE (show_record_set)", answer(
        raw, s, "ShowRecordSetResponse", ["id", "name", "records", "status", "update_at", "zone_id",
                                           "zone_name", "default", "project_id", "links._self"]) + (
        [] if s.status == "ACTIVE" and s.records == ["127.0.0.20"] and s.ttl == 5
        else [f"status {s.status} records {s.records} ttl {s.ttl}"]))


# The emulator's fault plan for the exposure reads: one instance with an EIP, one whose group
# lets 0.0.0.0/0 in on its port; any other id is a private instance.
EXPOSURE_PLAN = """rds:
  - instance: rds-sdk-eip
    fault: public_ip
  - instance: rds-sdk-open
    port: 3306
    fault: open_port
"""


def exposure(run, url, raw):
    """The exposure pre-check's reads through Huawei's RDS and VPC SDKs: the instance by id,
    its security group's rules, page by page."""
    rds = common.rds_client(url, raw)
    vpc = common.vpc_client(url, raw)
    documented = ["total_count", "instances[0].id", "instances[0].name", "instances[0].status",
                  "instances[0].private_ips", "instances[0].type", "instances[0].datastore.type",
                  "instances[0].datastore.version", "instances[0].port", "instances[0].vpc_id",
                  "instances[0].subnet_id", "instances[0].security_group_id", "instances[0].created"]
    clean = call(run, "RDS instance by id (list_instances)", rds.list_instances,
                 calls.rds_instance("rds-sdk-clean"), raw, "ListInstancesResponse", documented)
    if clean is not None:
        i = clean.instances[0] if clean.instances else None
        run.check("a private instance has no public_ips and its own security group",
                  [] if i and i.public_ips == [] and i.id == "rds-sdk-clean" and i.security_group_id
                  else [f"{i}"])
    eip = call(run, "RDS instance with an EIP (list_instances)", rds.list_instances,
               calls.rds_instance("rds-sdk-eip"), raw, "ListInstancesResponse", documented)
    if eip is not None:
        run.check("the EIP is in public_ips",
                  [] if eip.instances and eip.instances[0].public_ips else [f"{eip.instances}"])
    rule_fields = ["request_id", "page_info.current_count", "security_group_rules[0].id",
                   "security_group_rules[0].security_group_id", "security_group_rules[0].direction",
                   "security_group_rules[0].ethertype",
                   "security_group_rules[0].action", "security_group_rules[0].priority",
                   "security_group_rules[0].remote_ip_prefix", "security_group_rules[0].created_at",
                   "security_group_rules[0].project_id"]
    sg = field(eip, "instances[0].security_group_id") if eip else None
    r = call(run, "security-group rules (list_security_group_rules)", vpc.list_security_group_rules,
             calls.vpc_rules(sg or "sg-rds-sdk-eip"), raw, "ListSecurityGroupRulesResponse", rule_fields)
    if r is not None:
        run.check("a private instance's group lets only the VPC in",
                  [f"{x.id} from {x.remote_ip_prefix}" for x in r.security_group_rules or []
                   if x.direction == "ingress" and x.remote_ip_prefix in ("0.0.0.0/0", "::/0")])
    r = call(run, "security-group rules of an open group", vpc.list_security_group_rules,
             calls.vpc_rules("sg-rds-sdk-open"), raw, "ListSecurityGroupRulesResponse", rule_fields)
    if r is not None:
        run.check("the open group's rule: ingress tcp 3306 from 0.0.0.0/0",
                  [] if any(x.direction == "ingress" and x.protocol == "tcp" and x.multiport == "3306"
                            and x.remote_ip_prefix == "0.0.0.0/0" for x in r.security_group_rules or [])
                  else [f"{[(x.id, x.direction, x.multiport, x.remote_ip_prefix) for x in r.security_group_rules or []]}"])
    # multiport is not required of rule 0: empty means every port (the egress rules).
    # Paging as the SDK does it: limit 1, then next_marker until there is none.
    seen, marker = [], None
    for _ in range(10):
        req = calls.vpc_rules("sg-rds-sdk-open", marker)
        req.limit = 1
        p = vpc.list_security_group_rules(req)
        seen += [x.id for x in p.security_group_rules or []]
        marker = p.page_info.next_marker if p.page_info else None
        if not marker:
            break
    total = len(r.security_group_rules or []) if r is not None else -1
    run.check("rules page by marker (limit 1)",
              [] if len(seen) == total and len(set(seen)) == total else [f"{seen} of {total}"])


# The RDS instance the restore contract's DRS job replicates into: the emulator lists one
# backup of it and restores that to a new instance, a copy of the job's target database.
RESTORE_FROM = "rds-sdk-restore"


def psql(sql, db="postgres"):
    """A statement on the PostgreSQL server the native emulator restores on (127.0.0.1:5432)."""
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1",
                    "-qAtc", sql], check=True, capture_output=True, text=True)


def restore(run):
    """The restore test's RDS calls (src/restore/rds.rs) through Huawei's RDS SDK against a
    native emulator: a DRS job replicates into RDS instance `rds-sdk-restore` (a real database
    on this server); its backup is restored to a new instance (a real copy of that database),
    listed by name until ACTIVE, then deleted; and RDS's refusals, by `error_code`."""
    target = f"wd_sdk_restore_{os.getpid()}"
    name = f"wd-rt-sdk-{os.getpid()}-1"
    psql(f"DROP DATABASE IF EXISTS {target}")
    psql(f"CREATE DATABASE {target}")
    psql("CREATE TABLE kept (id int PRIMARY KEY); INSERT INTO kept SELECT generate_series(1, 10)", target)
    emu = common.Emulator(speed=500, native=True)
    try:
        raw = common.Raw()
        req = calls.create("wd-sdk-restore", "sdk-restore", 1, db=target)
        for ep in (req.body.jobs[0].source_endpoint, req.body.jobs[0].target_endpoint):
            ep.ip, ep.db_port, ep.db_user, ep.db_password = "127.0.0.1", 5432, "postgres", ""
        req.body.jobs[0].target_endpoint.inst_id = RESTORE_FROM
        common.drs_client(emu.url, raw).batch_create_jobs(req)
        client = common.rds_client(emu.url, raw)
        restore_life(run, client, raw, name)
        restore_refusals(run, client, raw, name)
    finally:
        emu.stop()
        for db in (target, name):
            psql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def restore_life(run, client, raw, name):
    r = call(run, "RDS backups of the target (list_backups)", client.list_backups,
             calls.rds_backups(RESTORE_FROM), raw, "ListBackupsResponse",
             ["total_count", "backups[0].id", "backups[0].instance_id", "backups[0].name",
              "backups[0].begin_time", "backups[0].end_time", "backups[0].status", "backups[0].type",
              "backups[0].size", "backups[0].datastore.type"])
    backup = field(r, "backups[0].id") if r else None
    if r is not None:
        b = r.backups[0] if r.backups else None
        run.check("the backup is finished, with RDS's time format (yyyy-mm-ddThh:mm:ss+0800)",
                  [] if b and b.status == "COMPLETED" and b.type == "auto"
                  and time_ok(b.end_time) and time_ok(b.begin_time) else [f"{b}"])
    if not backup:
        run.check("the rest of the restore's life", ["no backup was listed"])
        return
    r = call(run, "restore to a new instance (create_restore_instance)", client.create_restore_instance,
             calls.rds_restore(RESTORE_FROM, name, backup_id=backup), raw, "CreateRestoreInstanceResponse",
             ["job_id", "instance.id", "instance.name", "instance.status", "instance.flavor_ref",
              "instance.volume.type", "instance.volume.size", "instance.availability_zone"])
    iid = field(r, "instance.id") if r else None
    if r is not None:
        run.check("the restore answers 202, the new instance BUILD",
                  [] if raw.status == 202 and r.instance.status == "BUILD" and r.instance.name == name
                  else [f"HTTP {raw.status} {r.instance}"])
    if not iid:
        return
    documented = ["total_count", "instances[0].id", "instances[0].name", "instances[0].status",
                  "instances[0].private_ips", "instances[0].port", "instances[0].type",
                  "instances[0].datastore.type", "instances[0].flavor_ref", "instances[0].volume.type",
                  "instances[0].volume.size", "instances[0].nodes[0].availability_zone",
                  "instances[0].created", "instances[0].updated"]
    s = wait(lambda: client.list_instances(calls.rds_named(name)),
             lambda x: bool(x.instances) and x.instances[0].status == "ACTIVE")
    run.check("the new instance listed by name until ACTIVE (list_instances)", answer(
        raw, s, "ListInstancesResponse", documented) + (
        [] if s.instances and s.instances[0].status == "ACTIVE" and s.instances[0].id == iid
        else [f"{[(i.id, i.status) for i in s.instances or []]}"]))
    call(run, "the new instance by id (list_instances)", client.list_instances,
         calls.rds_instance(iid), raw, "ListInstancesResponse", documented)
    # ListInstances `name`: exact, fuzzy only after a leading `*` (API reference, "Querying DB
    # Instances").
    part = client.list_instances(calls.rds_named(name[:-2]))
    fuzzy = client.list_instances(calls.rds_named("*" + name[3:-2]))
    run.check("a name is matched exactly, and fuzzily after a leading *",
              ([] if not part.instances else [f"{name[:-2]!r} found {[i.name for i in part.instances]}"]) +
              ([] if [i.id for i in fuzzy.instances or []] == [iid]
               else [f"'*{name[3:-2]}' found {[i.name for i in fuzzy.instances or []]}"]))
    r = call(run, "delete the new instance (delete_instance)", client.delete_instance, calls.rds_delete(iid),
             raw, "DeleteInstanceResponse", ["job_id"])
    if r is not None:
        run.check("the delete answers 202", [] if raw.status == 202 else [f"HTTP {raw.status}"])
    gone = client.list_instances(calls.rds_named(name))
    run.check("a deleted instance is no longer listed",
              [] if not gone.instances and gone.total_count == 0 else [f"{gone.instances}"])


def time_ok(t):
    try:
        datetime.datetime.strptime(t or "", "%Y-%m-%dT%H:%M:%S%z")
        return True
    except ValueError:
        return False


def restore_refusals(run, client, raw, name):
    """RDS's codes (API reference, "Error Codes", rds_10_0201): DBS.200001 400 parameter error,
    DBS.200002 404 the instance does not exist, DBS.200013 404 the original instance does not
    exist, DBS.200021 400 invalid instance name, DBS.200022 409 the name already exists."""
    req = calls.rds_backups(RESTORE_FROM)
    req.instance_id = None
    refusal(run, "backups without instance_id are refused", client.list_backups, req, raw, "DBS.200001", 400)
    refusal(run, "a restore from an unknown instance is refused", client.create_restore_instance,
            calls.rds_restore("rds-sdk-nowhere", "wd-rt-sdk-nowhere", restore_time=1780000000000),
            raw, "DBS.200013", 404)
    refusal(run, "a restore to an invalid name is refused", client.create_restore_instance,
            calls.rds_restore(RESTORE_FROM, "1-starts-with-a-digit", restore_time=1780000000000),
            raw, "DBS.200021", 400)
    first = calls.rds_restore(RESTORE_FROM, name + "-dup", restore_time=1780000000000)
    try:
        r = client.create_restore_instance(first)
    except sdk_exc.SdkException as e:
        run.check("a name in use is refused", [f"the first restore failed: {e.error_code} {e.error_msg}"])
        return
    refusal(run, "a name in use is refused", client.create_restore_instance, first, raw, "DBS.200022", 409)
    wait(lambda: client.list_instances(calls.rds_named(name + "-dup")),
         lambda x: bool(x.instances) and x.instances[0].status != "BUILD")
    client.delete_instance(calls.rds_delete(r.instance.id))
    refusal(run, "deleting an unknown instance is refused", client.delete_instance,
            calls.rds_delete(r.instance.id), raw, "DBS.200002", 404)
    req = calls.rds_named(name)
    req.limit = 0
    refusal(run, "instances with limit 0 are refused", client.list_instances, req, raw, "DBS.200001", 400)


def refusals(run, emu, client, raw):
    bad = common.drs_client(emu.url, raw, sk=common.SK[:-1] + "X")
    refusal(run, "wrong SK is refused", bad.show_quotas, calls.quotas(), raw, "APIG.0301", 401)
    refusal(run, "missing mandatory fields are refused",
            client.batch_create_jobs, calls.create_without("wd-sdk-missing", "sdk-missing", "db_use_type",
                                                           "source_endpoint"),
            raw, "DRS.M00201", 400)
    mandatory_fields(run, client, raw)
    refusal(run, "unknown job id is refused", client.batch_list_job_details,
            calls.detail(["00000000-0000-0000-0000-00000000dead"]), raw, "DRS.M00289", 400)
    try:
        client.batch_create_jobs(calls.create("wd-sdk-dup-01", "sdk-dup-01", 1))
    except sdk_exc.SdkException as e:
        run.check("duplicate name is refused", [f"the first create failed: {e.error_code} {e.error_msg}"])
        return
    refusal(run, "duplicate name is refused", client.batch_create_jobs,
            calls.create("wd-sdk-dup-01", "sdk-dup-01", 1), raw, "DRS.M00277", 422)


def mandatory_fields(run, client, raw):
    """Each mandatory field of the SDK's request models (one unset at a time, the rest as a
    correct client sends them) is refused with DRS's 400 DRS.M00201; the job ids are made up,
    as the field check comes before any job is looked up."""
    job = "00000000-0000-0000-0000-00000000beef"

    def without(req, path, value=None):
        obj = req.body
        parts = path.split(".")
        for p in parts[:-1]:
            obj = obj[int(p)] if p.isdigit() else getattr(obj, p)
        setattr(obj, parts[-1], value)
        return req

    cases = [
        ("create without customize_sutnet_id (empty)", client.batch_create_jobs,
         without(calls.create("wd-sdk-nosubnet", "sdk-nosubnet", 1), "jobs.0.customize_sutnet_id", "")),
        ("create without node_type", client.batch_create_jobs,
         without(calls.create("wd-sdk-nonode", "sdk-nonode", 1), "jobs.0.node_type")),
        ("connection test without db_password", client.batch_validate_connections,
         without(calls.connection(job), "jobs.0.db_password")),
        ("connection test without end_point_type", client.batch_validate_connections,
         without(calls.connection(job), "jobs.1.end_point_type")),
        ("tenant list without db_use_type", client.show_job_list, without(calls.list_jobs("x"), "db_use_type")),
        ("modify without job_id", client.batch_update_job, without(calls.modify(job, "wd-x"), "jobs.0.job_id")),
        ("pre-check without precheck_mode", client.batch_check_jobs,
         without(calls.precheck([job]), "jobs.0.precheck_mode")),
        ("start without job_id", client.batch_start_jobs, without(calls.start([job]), "jobs.0.job_id")),
        ("pause without pause_mode", client.batch_stop_jobs, without(calls.pause([job]), "jobs.0.pause_mode")),
        ("resume without job_id", client.batch_restore_task, without(calls.resume([job]), "jobs.0.job_id")),
        ("terminate without delete_type", client.batch_delete_jobs,
         without(calls.delete_jobs([job], "terminate"), "jobs.0.delete_type")),
        ("status without jobs", client.batch_list_job_status, without(calls.status([job]), "jobs")),
        ("progress without jobs", client.batch_list_progresses, without(calls.progress([job]), "jobs")),
        ("data comparison without type", client.create_data_level_table_compare_job,
         without(calls.table_compare(job, "lines"), "type")),
    ]
    for name, fn, req in cases:
        refusal(run, f"mandatory field: {name} is refused", fn, req, raw, "DRS.M00201", 400)


def main():
    run = Run()
    emu = common.Emulator(speed=500, faults=EXPOSURE_PLAN)
    try:
        raw = common.Raw()
        client = common.drs_client(emu.url, raw)
        for part in (lambda: quotas(run, client, raw),
                     lambda: job_life(run, client, raw, "postgresql"),
                     lambda: job_life(run, client, raw, "mysql"),
                     lambda: dns_switch(run, common.dns_client(emu.url, raw), raw),
                     lambda: exposure(run, emu.url, raw),
                     lambda: restore(run),
                     lambda: refusals(run, emu, client, raw)):
            try:
                part()
            except Exception:  # a crash in one part fails it, the others still run
                run.prefix = ""
                run.check("no crash", [traceback.format_exc().strip().splitlines()[-1]])
                traceback.print_exc()
    finally:
        emu.stop()
    gaps = f", {run.gaps} known gap{'s' if run.gaps != 1 else ''}" if run.gaps else ""
    print(f"{run.passed} passed, {run.failed} failed{gaps}")
    return 1 if run.failed else 0


if __name__ == "__main__":
    sys.exit(main())
