"""Every DRS and DNS operation wavedeck performs, as Huawei's SDK builds it: the request
models filled the way a correct SDK user fills them for wavedeck's case (a PostgreSQL `sync`
job, full + incremental, the two wavedeck tags, the mandatory fields of each model). The
contract run (`contract.py`) sends them to the emulator; `make_golden.py` records what the SDK
puts on the wire for each, which `tests/sdk_golden.rs` holds wavedeck's own client to."""

import huaweicloudsdkdns.v2 as dns
import huaweicloudsdkdrs.v3 as drs
import huaweicloudsdkrds.v3 as rds
import huaweicloudsdkvpc.v3 as vpc

from common import PROJECT_ID

# engine_type -> (db_use_type, port): PostgreSQL through the API is `sync`, MySQL `migration`.
ENGINES = {"postgresql": ("sync", 5432), "mysql": ("migration", 3306)}


def endpoint(host, db, target=False, engine="postgresql"):
    ep = drs.Endpoint(db_type=engine, ip=host, db_port=ENGINES[engine][1], db_user="mig",
                      db_password="loopback-only", db_name=db)
    if target:
        ep.region = "eu-west-101"
        ep.inst_id = "rds-sdk-contract"
        ep.vpc_id = "vpc-sdk"
        ep.subnet_id = "subnet-sdk"
        ep.security_group_id = "sg-sdk"
    return ep


def create(name, db_id, size_mb, db="app", engine="postgresql"):
    job = drs.CreateJobReq(
        name=name,
        db_use_type=ENGINES[engine][0],
        engine_type=engine,
        job_direction="up",
        net_type="vpc",
        node_type="high",
        task_type="FULL_INCR_TRANS",
        source_endpoint=endpoint("127.0.0.1", db, engine=engine),
        target_endpoint=endpoint("127.0.0.2", db, target=True, engine=engine),
        customize_sutnet_id="subnet-sdk",
        description=f"wavedeck {db_id}",
        is_target_readonly=True,
        tags=[drs.ResourceTag(key="wavedeck-db-id", value=db_id),
              drs.ResourceTag(key="wavedeck-size-mb", value=str(size_mb))],
    )
    return drs.BatchCreateJobsRequest(body=drs.BatchCreateJobReq(jobs=[job]))


def create_without(name, db_id, *fields):
    """A create request with mandatory fields left out (the SDK sends what it is given)."""
    req = create(name, db_id, 1)
    for f in fields:
        setattr(req.body.jobs[0], f, None)
    return req


def list_jobs(name, engine="postgresql"):
    return drs.ShowJobListRequest(body=drs.QueryJobsReq(
        cur_page=1, per_page=100, db_use_type=ENGINES[engine][0], engine_type=engine, name=name))


def _page(ids):
    return drs.BatchQueryJobReqPage(jobs=list(ids), page_req=drs.PageReq(cur_page=1, per_page=100))


def status(ids):
    return drs.BatchListJobStatusRequest(body=_page(ids))


def detail(ids):
    return drs.BatchListJobDetailsRequest(body=_page(ids))


def progress(ids):
    return drs.BatchListProgressesRequest(body=drs.BatchQueryProgressReq(jobs=list(ids)))


def connection(job_id, db="app", engine="postgresql"):
    """Source (`so`) and target (`ta`) in one call; `project_id` as the Terraform provider and
    the OTC example send it."""
    def side(host, kind):
        t = drs.TestEndPoint(id=job_id, net_type="vpc", db_type=engine, ip=host, db_port=ENGINES[engine][1],
                             db_user="mig", db_password="loopback-only", db_name=db,
                             end_point_type=kind, project_id=PROJECT_ID)
        if kind == "ta":
            t.inst_id = "rds-sdk-contract"
            t.region = "eu-west-101"
            t.vpc_id = "vpc-sdk"
            t.subnet_id = "subnet-sdk"
        return t
    return drs.BatchValidateConnectionsRequest(body=drs.BatchTestConnectionReq(
        jobs=[side("127.0.0.1", "so"), side("127.0.0.2", "ta")]))


def modify(job_id, name, db="app", engine="postgresql"):
    """Saving the tested endpoints: after the connection test `node_type` is mandatory, and
    `replace_definer` for MySQL, which alone supports it (SDK modify_job_req.py: "MySQL数据库
    支持该设置，测试连接之后修改调用时必填"); `is_recreate: false` as the Terraform provider
    sends it."""
    return drs.BatchUpdateJobRequest(body=drs.BatchModifyJobReq(jobs=[drs.ModifyJobReq(
        job_id=job_id,
        name=name,
        task_type="FULL_INCR_TRANS",
        source_endpoint=endpoint("127.0.0.1", db, engine=engine),
        target_endpoint=endpoint("127.0.0.2", db, target=True, engine=engine),
        node_type="high",
        engine_type=engine,
        net_type="vpc",
        store_db_info=True,
        is_recreate=False,
        job_direction="up",
        is_target_readonly=True,
        replace_definer=True if engine == "mysql" else None,
        db_use_type=ENGINES[engine][0],
    )]))


def select_objects(job_id, db="app"):
    return drs.BatchSetObjectsRequest(body=drs.BatchUpdateDatabaseObjectReq(jobs=[
        drs.UpdateDatabaseObjectReq(job_id=job_id, selected=True, job=[drs.DatabaseInfo(
            id=db, object_type="database", object_name=db, select="true")])]))


def precheck(ids):
    return drs.BatchCheckJobsRequest(body=drs.BatchPrecheckReq(
        jobs=[drs.PreCheckInfo(job_id=i, precheck_mode="forStartJob") for i in ids]))


def precheck_result(precheck_ids):
    return drs.BatchCheckResultsRequest(body=drs.BatchQueryPrecheckResultReq(jobs=list(precheck_ids)))


def start(ids):
    return drs.BatchStartJobsRequest(body=drs.BatchStartJobReq(
        jobs=[drs.StartInfo(job_id=i) for i in ids]))


def pause(ids, mode="target"):
    return drs.BatchStopJobsRequest(body=drs.BatchPauseJobReq(
        jobs=[drs.PauseInfo(job_id=i, pause_mode=mode) for i in ids]))


def resume(ids):
    return drs.BatchRestoreTaskRequest(body=drs.BatchRetryReq(
        jobs=[drs.RetryInfo(job_id=i) for i in ids]))


def delete_jobs(ids, delete_type):
    """`terminate`, `force_terminate` or `delete`."""
    return drs.BatchDeleteJobsRequest(body=drs.BatchDeleteJobReq(
        jobs=[drs.DeleteJobReq(job_id=i, delete_type=delete_type) for i in ids]))


def switchover(ids):
    return drs.BatchSwitchoverRequest(body=drs.BatchSwitchoverReq(jobs=list(ids)))


def quotas():
    return drs.ShowQuotasRequest()


def object_compare(job_id):
    return drs.CreateObjectLevelCompareJobRequest(job_id=job_id, body=drs.CreateObjectCompareJobReq())


def object_compare_overview(job_id):
    return drs.ListObejectLevelCompareOverviewRequest(job_id=job_id)


def table_compare(job_id, kind):
    """A data-level comparison of the job's objects: `compare_mode: quick_comparison`, so none
    are named (with `compare_mode` empty the SDK requires `compare_object`,
    create_data_level_table_compare_job_req.py; an empty `table_name` has no stated meaning)."""
    return drs.CreateDataLevelTableCompareJobRequest(job_id=job_id, body=drs.CreateDataLevelTableCompareJobReq(
        type=kind, compare_mode="quick_comparison"))


def table_compares(job_id):
    return drs.ListDataLevelTableCompareJobsRequest(job_id=job_id, limit=100, offset=0)


def cancel_compare(job_id, compare_id):
    return drs.DeleteCompareJobRequest(job_id=job_id, compare_job_id=compare_id)


def line_overview(job_id, compare_id):
    return drs.ListDataCompareOverviewRequest(job_id=job_id, compare_job_id=compare_id, limit=1000, offset=0)


def line_detail(job_id, compare_id):
    return drs.ListDataCompareDetailRequest(job_id=job_id, compare_job_id=compare_id, limit=1000, offset=0)


def content_overview(job_id, compare_id):
    return drs.ListContentCompareOverviewRequest(job_id=job_id, compare_job_id=compare_id, limit=1000, offset=0)


def content_detail(job_id, compare_id):
    return drs.ListContentCompareDetailRequest(job_id=job_id, compare_job_id=compare_id, limit=1000, offset=0)


# ---------- Cloud DNS (private zone record sets) ----------

def dns_create(zone, name, value):
    return dns.CreateRecordSetRequest(zone_id=zone, body=dns.CreateRecordSetRequestBody(
        name=name, type="A", ttl=300, records=[value]))


def dns_find(zone, name):
    return dns.ListRecordSetsByZoneRequest(zone_id=zone, type="A", name=name, search_mode="equal")


def dns_update(zone, recordset_id, name, value, ttl):
    return dns.UpdateRecordSetRequest(zone_id=zone, recordset_id=recordset_id, body=dns.UpdateRecordSetReq(
        name=name, type="A", ttl=ttl, records=[value], description="wavedeck cutover"))


def dns_show(zone, recordset_id):
    return dns.ShowRecordSetRequest(zone_id=zone, recordset_id=recordset_id)


# ---------- the exposure pre-check's reads (RDS v3, VPC v3) ----------

def rds_instance(instance_id):
    """RDS `ListInstances` by id: the target instance (EIPs, port, security group)."""
    return rds.ListInstancesRequest(id=instance_id)


def vpc_rules(security_group_id, marker=None):
    """VPC v3 `ListSecurityGroupRules` of one group, a page of at most 2000 after `marker`."""
    req = vpc.ListSecurityGroupRulesRequest(security_group_id=[security_group_id], limit=2000)
    if marker:
        req.marker = marker
    return req


# ---------- the restore test's RDS calls (src/restore/rds.rs) ----------

def rds_backups(instance_id):
    """RDS `ListBackups` of the target instance, one page of up to 100."""
    return rds.ListBackupsRequest(instance_id=instance_id, limit=100)


def rds_restore(instance_id, name, backup_id=None, restore_time=None):
    """RDS `CreateRestoreInstance`: the backup (or a point in time, Unix ms) to a new instance
    `name`, with the source's flavour, disk, zone and network, as wavedeck copies them."""
    point = rds.RestorePoint(instance_id=instance_id, type="backup" if backup_id else "timestamp")
    if backup_id:
        point.backup_id = backup_id
    else:
        point.restore_time = restore_time
    body = rds.CreateRestoreInstanceRequestBody(
        name=name, flavor_ref="rds.pg.n1.large.2", availability_zone="eu-west-101a",
        volume=rds.Volume(type="CLOUDSSD", size=40), vpc_id="vpc-sdk", subnet_id="subnet-sdk",
        security_group_id="sg-sdk", restore_point=point)
    return rds.CreateRestoreInstanceRequest(body=body)


def rds_named(name):
    """RDS `ListInstances` by name: the temporary instance (also after a crash, by its name)."""
    return rds.ListInstancesRequest(name=name)


def rds_delete(instance_id):
    """RDS `DeleteInstance`."""
    return rds.DeleteInstanceRequest(instance_id=instance_id)
