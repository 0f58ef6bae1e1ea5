"""What the SDK contract scripts share: a fresh `wavedeck emulator` on a free loopback port,
Huawei's own SDK clients pointed at it, the raw answer of the last call (to find keys the SDK
model does not know), and the checks that read answers through the SDK models."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkcore.http.http_handler import HttpHandler

import huaweicloudsdkdns.v2 as dns
import huaweicloudsdkdrs.v3 as drs
import huaweicloudsdkrds.v3 as rds
import huaweicloudsdkvpc.v3 as vpc

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PROJECT_ID = "0123456789abcdef0123456789abcdef"
# Made-up keys for a loopback emulator; nothing real.
AK = "SDKCONTRACTAK0000001"
SK = "sdkcontractsecretkey00000000000000000001"


def free_port():
    """A loopback port nothing listens on now (the emulator binds it right after)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Emulator:
    """`wavedeck emulator` as a child process; stopped by `stop()` (SIGTERM, then wait)."""

    def __init__(self, speed=200.0, quota=20, faults=None, native=False):
        binary = os.environ.get("WAVEDECK_BIN", os.path.join(REPO, "target", "debug", "wavedeck"))
        if not os.path.exists(binary):
            raise SystemExit(
                f"{binary} does not exist: run `cargo build --locked` first (or set WAVEDECK_BIN)"
            )
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cwd = tempfile.mkdtemp(prefix="wavedeck-sdk-contract-")
        env = dict(os.environ)
        env.update({"HUAWEICLOUD_SDK_AK": AK, "HUAWEICLOUD_SDK_SK": SK})
        args = [binary, "emulator", "--listen", f"127.0.0.1:{self.port}",
                "--speed", str(speed), "--quota", str(quota)]
        if native:
            # Jobs reach their databases: an RDS restore copies the target database for real.
            args.append("--native")
        if faults is not None:
            path = os.path.join(self.cwd, "faults.yaml")
            with open(path, "w") as f:
                f.write(faults)
            args += ["--faults", path]
        # No wavedeck.yaml in the temporary working directory: the defaults, as a new user has.
        self.proc = subprocess.Popen(
            args,
            cwd=self.cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        line = self.proc.stdout.readline()
        if "DRS emulator on" not in line:
            self.stop()
            raise SystemExit(f"the emulator did not start: {line.strip()!r}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.cwd, ignore_errors=True)


class Raw:
    """The raw body of the last answer, kept by a response handler of the SDK's HTTP layer."""

    def __init__(self):
        self.body = None
        self.status = None

    def handler(self, **kwargs):
        r = kwargs.get("response")
        self.status = r.status_code
        try:
            self.body = json.loads(r.text) if r.text else None
        except ValueError:
            self.body = None


def http_config():
    cfg = HttpConfig.get_default_config()
    cfg.ignore_ssl_verification = True
    cfg.retry_times = 0
    cfg.timeout = (5, 20)
    return cfg


def _client(cls, url, raw, ak, sk, security_token=None):
    handler = HttpHandler()
    if raw is not None:
        handler.add_response_handler(raw.handler)
    creds = BasicCredentials(ak, sk, PROJECT_ID)
    if security_token is not None:
        # Temporary credentials (an agency's, or STS): the SDK adds X-Security-Token and signs it.
        creds = creds.with_security_token(security_token)
    return (
        cls.new_builder()
        .with_http_config(http_config())
        .with_credentials(creds)
        .with_endpoints([url])
        .with_http_handler(handler)
        .build()
    )


def drs_client(url, raw=None, ak=AK, sk=SK, security_token=None):
    return _client(drs.DrsClient, url, raw, ak, sk, security_token)


def dns_client(url, raw=None):
    return _client(dns.DnsClient, url, raw, AK, SK)


def rds_client(url, raw=None):
    return _client(rds.RdsClient, url, raw, AK, SK)


def vpc_client(url, raw=None):
    return _client(vpc.VpcClient, url, raw, AK, SK)


# ---------- reading answers through the SDK models ----------

_PRIMITIVES = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "object": (dict, list, str, int, float, bool),
    "date": (str,),
    "datetime": (str,),
}


def _model_class(name, modules):
    for m in modules:
        c = getattr(m, name, None)
        if c is not None:
            return c
    return None


RDS_ANSWERS = ("ListInstancesResponse", "ListBackupsResponse", "CreateRestoreInstanceResponse",
               "DeleteInstanceResponse")


def drift(raw, type_name, where, modules=(drs, dns)):
    # The exposure and restore reads' models live in their own SDKs (their names would clash
    # with DRS's).
    if type_name in RDS_ANSWERS:
        modules = (rds,)
    elif type_name == "ListSecurityGroupRulesResponse":
        modules = (vpc,)
    """Keys of `raw` the SDK model `type_name` does not declare, and JSON types that differ
    from the model's: the SDK drops the former silently and may mangle the latter, so each is
    a field the real client would never see. Returns a list of sentences."""
    out = []
    if raw is None:
        return out
    if type_name.startswith("list["):
        if not isinstance(raw, list):
            return [f"{where}: a list in the SDK, {type(raw).__name__} here"]
        inner = type_name[5:-1]
        for i, v in enumerate(raw):
            out += drift(v, inner, f"{where}[{i}]", modules)
        return out
    if type_name.startswith("dict("):
        if not isinstance(raw, dict):
            return [f"{where}: an object in the SDK, {type(raw).__name__} here"]
        inner = type_name[5:-1].split(",", 1)[1].strip()
        for k, v in raw.items():
            out += drift(v, inner, f"{where}.{k}", modules)
        return out
    if type_name in _PRIMITIVES:
        ok = isinstance(raw, _PRIMITIVES[type_name])
        if type_name in ("int", "float") and isinstance(raw, bool):
            ok = False
        return [] if ok else [f"{where}: {type_name} in the SDK, {type(raw).__name__} {raw!r} here"]
    cls = _model_class(type_name, modules)
    if cls is None:
        return [f"{where}: SDK type {type_name} not found"]
    if not isinstance(raw, dict):
        return [f"{where}: object {type_name} in the SDK, {type(raw).__name__} here"]
    by_json = {cls.attribute_map[a]: t for a, t in cls.openapi_types.items()}
    for k, v in raw.items():
        if k not in by_json:
            out.append(f"{where}.{k}: not in the SDK's {type_name} (the SDK drops it)")
        elif v is not None:
            out += drift(v, by_json[k], f"{where}.{k}", modules)
    return out


def field(obj, path):
    """The value at a dotted path through SDK model objects; `[0]` indexes lists, and a part
    of the path is a key in the SDK's dict fields (`progress_map.data`)."""
    cur = obj
    for part in path.split("."):
        idx = None
        if part.endswith("]"):
            part, idx = part[:-1].split("[")
        if part and isinstance(cur, dict):
            cur = cur.get(part)
        else:
            cur = getattr(cur, part, None) if part else cur
        if idx is not None:
            cur = cur[int(idx)] if isinstance(cur, list) and len(cur) > int(idx) else None
        if cur is None:
            return None
    return cur


def empty(v):
    return v is None or v == "" or v == [] or v == {}


def missing(obj, paths):
    """The documented fields (dotted paths) that came back empty through the SDK model."""
    return [p for p in paths if empty(field(obj, p))]
